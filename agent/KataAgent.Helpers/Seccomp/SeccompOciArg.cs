namespace KataAgent.Helpers.Seccomp;

/// <summary>An OCI <c>LinuxSeccompArg</c> as strings and raw numbers, before validation.</summary>
public sealed record SeccompOciArg(ulong Index, ulong Value, ulong ValueTwo, string Op);
