using System.Text.Json;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// Every change an endpoint made to the pod's netns, as the way back (<see cref="UndoStep"/>), so that
/// teardown (or a setup that fails half-way) undoes exactly what was done, newest first. With a journal
/// path, the steps are also written there as they are pushed (whole file, atomically replaced), so that
/// another process can finish the teardown (<see cref="Load"/>): the owner of a detached sandbox is gone
/// by the time it is removed, and an owner that dies leaves its changes behind. An undo step that fails
/// does not stop the others; the failures are reported together at the end, and the journal keeps just
/// those, for another try.
/// </summary>
internal sealed class UndoStack
{
    private readonly List<UndoStep> _steps;

    public UndoStack(string namespacePath, NetworkModel model, string? journalPath)
        : this(new TeardownJournal { NamespacePath = namespacePath, Model = model, Steps = [] }, journalPath)
    {
    }

    private UndoStack(TeardownJournal journal, string? journalPath)
    {
        NamespacePath = journal.NamespacePath;
        Model = journal.Model;
        JournalPath = journalPath is null ? null : Path.GetFullPath(journalPath);
        _steps = [.. journal.Steps];
        Checkpoint = journal.Checkpoint;
    }

    public string NamespacePath { get; }

    public NetworkModel Model { get; }

    /// <summary>Where the steps are written; null when they live in this process only.</summary>
    public string? JournalPath { get; }

    public IReadOnlyList<UndoStep> Steps => _steps;

    /// <summary>The wiring a restore needs (<see cref="Record"/>); null until the endpoint is complete.</summary>
    public Checkpoints.NetworkCheckpoint? Checkpoint { get; private set; }

    /// <summary>Records the complete endpoint's wiring with the steps (a checkpoint of the sandbox reads it from the journal).</summary>
    public void Record(Checkpoints.NetworkCheckpoint checkpoint)
    {
        Checkpoint = checkpoint;
        Save();
    }

    public void Push(UndoStep step)
    {
        _steps.Add(step);
        Save();
    }

    /// <summary>Runs every undo step, newest first; throws <see cref="PodNetworkException"/> naming those that failed.</summary>
    public void UndoAll(UndoContext context)
    {
        var failed = new List<UndoStep>();
        var failures = new List<string>();
        Exception? first = null;
        for (int i = _steps.Count - 1; i >= 0; i--)
        {
            try
            {
                _steps[i].Undo(context);
            }
            catch (Exception e)
            {
                first ??= e;
                failed.Insert(0, _steps[i]);
                failures.Add($"{_steps[i].Describe()}: {e.Message}");
            }
        }
        _steps.Clear();
        _steps.AddRange(failed);
        Save();
        if (first is not null)
        {
            throw new PodNetworkException($"restoring the pod network namespace {NamespacePath} failed: {string.Join("; ", failures)}", first);
        }
    }

    /// <summary>Undoes a setup that failed with <paramref name="cause"/>; an undo failure is attached to the cause (Data["undo"]) rather than hiding it.</summary>
    public void UndoAfter(Exception cause, UndoContext context)
    {
        try
        {
            UndoAll(context);
        }
        catch (PodNetworkException e)
        {
            cause.Data["undo"] = e.Message;
        }
    }

    /// <summary>The stack a journal file holds, still journaled there; null when there is no such file.</summary>
    /// <exception cref="PodNetworkException">The file is not a teardown journal.</exception>
    public static UndoStack? Load(string journalPath)
    {
        TeardownJournal? journal;
        try
        {
            journal = JsonSerializer.Deserialize(File.ReadAllText(journalPath), TeardownJournalJsonContext.Default.TeardownJournal);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new PodNetworkException($"{journalPath} is not a network teardown journal: {e.Message}", e);
        }
        return journal is null ? throw new PodNetworkException($"{journalPath} is empty") : new UndoStack(journal, journalPath);
    }

    /// <summary>Writes the journal, or deletes it when nothing is left to undo.</summary>
    private void Save()
    {
        if (JournalPath is null)
        {
            return;
        }
        string? directory = Path.GetDirectoryName(JournalPath);
        if (directory is not null && !Directory.Exists(directory))
        {
            // The state directory went away (a VM whose start failed takes it along): nothing to keep it in.
            return;
        }
        if (_steps.Count == 0)
        {
            File.Delete(JournalPath);
            return;
        }
        string temporary = JournalPath + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(new TeardownJournal { NamespacePath = NamespacePath, Model = Model, Steps = [.. _steps], Checkpoint = Checkpoint }, TeardownJournalJsonContext.Default.TeardownJournal));
        File.Move(temporary, JournalPath, overwrite: true);
    }
}
