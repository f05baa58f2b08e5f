using KataAgent.Host;

namespace KataAgent.Kactl;

/// <summary>
/// kactl's process exit codes (also listed in README.md). <c>run</c> and <c>exec</c> exit with the
/// container process's own status (0..255, 128 + N for signal N) once it ran; these codes are for
/// kactl's own failures.
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The agent answered with a gRPC error (status other than OK), or Health.Check did not say SERVING.</summary>
    public const int RpcFailed = 1;

    /// <summary>A VM failed (same code as <see cref="RpcFailed"/>): it did not boot, its console closed, it would not stop, its log is missing.</summary>
    public const int VmFailed = 1;

    /// <summary>The command line was wrong: unknown option or RPC, malformed address, bad or unreadable request JSON, an invalid OCI bundle, an unknown sandbox id, a missing kernel, initrd or rootfs.</summary>
    public const int Usage = 2;

    /// <summary>The agent could not be reached before the connect timeout.</summary>
    public const int ConnectFailed = 3;

    /// <summary>An image could not be pulled, loaded, found or unpacked: no such image, refused credentials, an unreachable registry, content that does not match its digest, a layer that would escape its rootfs.</summary>
    public const int ImageFailed = 4;

    /// <summary>Interrupted (SIGINT/SIGTERM) before the command finished.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code for a failure of the image library: a malformed reference, platform or layout is the user's (<see cref="Usage"/>), the rest <see cref="ImageFailed"/>.</summary>
    public static int For(KataAgent.Image.ImageException e) =>
        e.Kind == KataAgent.Image.ImageErrorKind.InvalidInput ? Usage : ImageFailed;

    /// <summary>The exit code for a failure of the host library, by its kind.</summary>
    public static int For(KataAgentException e) => e.Kind switch
    {
        KataAgentErrorKind.Connect => ConnectFailed,
        KataAgentErrorKind.AgentStatus => RpcFailed,
        KataAgentErrorKind.Bundle => Usage,
        _ => VmFailed,
    };
}
