using System.CommandLine;
using KataAgent.Host.Images;
using KataAgent.Image;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary><c>kactl run --pull guest IMAGE [-- CMD…]</c>: the image pulled inside the VM, the host's store untouched.</summary>
public sealed partial class RunCommand
{
    /// <summary>
    /// The guest pull of the command line: the registry options as for a host pull (<c>--plain-http</c>, <c>--ca</c>
    /// whose PEM is read here and sent, <c>--platform</c>), the credentials docker's config file gives for the image's
    /// registry (its <c>auths</c> entry or its credential helper's answer; sent to the guest only), the process
    /// overrides; layers and rootfs in guest memory.
    /// </summary>
    /// <exception cref="KactlException">A malformed reference or an unreadable CA or docker config file, a credential
    /// helper that is not installed or answers nonsense (exit 2); a credential helper that fails (exit 4).</exception>
    private async Task<GuestPullOptions> GuestPullOptionsOfAsync(ParseResult parseResult, VmRunRequest request, Action<Spec> editSpec, CancellationToken cancellationToken)
    {
        RegistryCredentials? credentials;
        try
        {
            credentials = await DockerConfigCredentials.Load(null, DockerCredentialHelperRunner.Instance)
                .FindAsync(ImageReference.Parse(request.Image!).Registry, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            throw new KactlException(ExitCodes.For(e), Images.ImageErrors.Describe(e), e);
        }
        string? caPem = null;
        if (parseResult.GetValue(_images.Ca) is { } ca)
        {
            try
            {
                caPem = File.ReadAllText(ca);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KactlException(ExitCodes.Usage, $"--ca: cannot read {ca}: {e.Message}", e);
            }
        }
        return new GuestPullOptions
        {
            Credentials = credentials,
            CaPem = caPem,
            PlainHttpRegistries = parseResult.GetValue(_images.PlainHttp) ?? [],
            Platform = request.Platform?.ToString(),
            Overrides = request.Overrides,
            Terminal = request.Terminal,
            EditSpec = editSpec,
        };
    }
}
