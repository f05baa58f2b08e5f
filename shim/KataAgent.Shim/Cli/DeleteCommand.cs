using Google.Protobuf;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Tasks;

namespace KataAgent.Shim.Cli;

/// <summary>
/// The <c>delete</c> action: containerd runs it after every task delete (also for one container of a pod whose
/// shim keeps serving the others) and for bundles whose shim it cannot reach. The task service cleans up what
/// this one task left; stdout gets the binary <c>DeleteResponse</c> and nothing else, stderr what containerd logs
/// as warnings.
/// </summary>
internal static class DeleteCommand
{
    /// <summary>Runs the cleanup and writes the response to <paramref name="stdout"/>.</summary>
    public static async Task RunAsync(ShimArguments arguments, Stream stdout, CancellationToken cancellationToken)
    {
        DeleteResponse response = await TaskService.CleanupAsync(arguments, cancellationToken).ConfigureAwait(false);
        byte[] bytes = response.ToByteArray();
        await stdout.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
