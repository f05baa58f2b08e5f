namespace KataAgent.Agent.Processes;

/// <summary>How a tool run by <see cref="ToolRunner"/> ended: its exit status (128 + N when killed by signal N), what it wrote to stdout, and its stderr as text.</summary>
public sealed record ToolResult(int Status, byte[] Stdout, string Stderr);
