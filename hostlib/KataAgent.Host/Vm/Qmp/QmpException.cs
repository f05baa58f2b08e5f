namespace KataAgent.Host.Vm;

/// <summary>qemu answered a QMP command with an error: its class (e.g. GenericError, DeviceNotFound) and description.</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : KataAgentException(KataAgentErrorKind.Qmp, $"qemu refused QMP command '{command}': {errorClass}: {description}")
{
    /// <summary>The command that failed.</summary>
    public string Command { get; } = command;

    /// <summary>QMP's error class, e.g. <c>GenericError</c>, <c>DeviceNotFound</c>, <c>CommandNotFound</c>.</summary>
    public string ErrorClass { get; } = errorClass;

    /// <summary>qemu's human-readable description.</summary>
    public string Description { get; } = description;
}
