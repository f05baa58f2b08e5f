namespace KataAgent.Host.Network.Teardown;

/// <summary>Deletes a directory an endpoint made for its helper's files (passt's socket, pid file and log).</summary>
internal sealed record DeleteDirectoryStep(string Path) : UndoStep
{
    public override string Describe() => $"delete {Path}";

    public override void Undo(UndoContext context)
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
