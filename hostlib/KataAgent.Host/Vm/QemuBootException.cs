namespace KataAgent.Host.Vm;

/// <summary>The VM did not come up; carries the last lines of its console.</summary>
public sealed class QemuBootException(string message, string consoleTail, Exception? inner = null)
    : KataAgentException(KataAgentErrorKind.Boot, $"{message}\n--- last console lines ---\n{consoleTail}", inner)
{
    /// <summary>The last lines of the guest's console.</summary>
    public string ConsoleTail { get; } = consoleTail;
}
