using KataAgent.ImagePull;

// .NET's TLS opens its X509 stores under the home directory and, without HOME, looks the user up with getpwuid, which
// fails in a guest image that has no /etc/passwd: every HTTPS pull then failed with "No such file or directory".
// The agent runs helpers with PATH alone; any directory does (nothing is written there), so "/" when unset.
if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HOME")))
    Environment.SetEnvironmentVariable("HOME", "/");

return await GuestPull.RunAsync(Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.Error, CancellationToken.None);
