namespace KataAgent.Helpers.Seccomp;

/// <summary>
/// A seccomp profile the compiler cannot turn into a filter. The message names the offending
/// field by its OCI path (e.g. <c>syscalls[3].action</c>) so the caller can report it verbatim.
/// </summary>
public sealed class SeccompException : ArgumentException
{
    public SeccompException(string field, string message)
        : base($"{field}: {message}")
    {
        Field = field;
    }

    /// <summary>Path of the bad field in the OCI <c>linux.seccomp</c> object, or "profile" for the whole.</summary>
    public string Field { get; }
}
