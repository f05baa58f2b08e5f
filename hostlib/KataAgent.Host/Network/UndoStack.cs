namespace KataAgent.Host.Network;

/// <summary>
/// Every change an endpoint made to the pod's netns, with the way back, so that teardown (or a
/// setup that fails half-way) undoes exactly what was done, newest first. An undo step that fails
/// does not stop the others; the failures are reported together at the end.
/// </summary>
internal sealed class UndoStack
{
    private readonly Stack<(string What, Action Undo)> _steps = new();

    public void Push(string what, Action undo) => _steps.Push((what, undo));

    /// <summary>Runs every undo step; throws <see cref="PodNetworkException"/> naming those that failed.</summary>
    public void UndoAll()
    {
        var failures = new List<string>();
        Exception? first = null;
        while (_steps.TryPop(out var step))
        {
            try
            {
                step.Undo();
            }
            catch (Exception e)
            {
                first ??= e;
                failures.Add($"{step.What}: {e.Message}");
            }
        }
        if (first is not null)
        {
            throw new PodNetworkException("restoring the pod network namespace failed: " + string.Join("; ", failures), first);
        }
    }

    /// <summary>Undoes a setup that failed with <paramref name="cause"/>; an undo failure is attached to the cause (Data["undo"]) rather than hiding it.</summary>
    public void UndoAfter(Exception cause)
    {
        try
        {
            UndoAll();
        }
        catch (PodNetworkException e)
        {
            cause.Data["undo"] = e.Message;
        }
    }
}
