namespace KataAgent.Host.Containers;

/// <summary>How many bytes of a process's stdout and stderr this host has received, counted from the process's start.</summary>
internal readonly record struct ProcessOutputOffsets(long Stdout, long Stderr);
