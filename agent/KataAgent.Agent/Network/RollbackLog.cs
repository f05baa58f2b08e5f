using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Network;

/// <summary>
/// The undo steps of a network change, applied in reverse when a later step fails, so a request
/// either takes effect whole or leaves the guest as it found it.
/// </summary>
internal sealed class RollbackLog(ILogger logger)
{
    private readonly Stack<(string What, Action Undo)> _steps = new();

    public void Add(string what, Action undo) => _steps.Push((what, undo));

    /// <summary>Undoes every step recorded so far, newest first; an undo that fails is logged and the rest still run.</summary>
    public void RollBack()
    {
        while (_steps.TryPop(out var step))
        {
            try
            {
                step.Undo();
            }
            catch (Exception e)
            {
                logger.LogError("network rollback: could not undo {What}: {Error}", step.What, e.Message);
            }
        }
    }
}
