using System.Text.RegularExpressions;
using Grpc.Core;
using KataAgent.Agent.Devices;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using KataAgent.Protocols;
using KataAgent.Protocols.Extensions;
using KataAgent.Protocols.Guest;
using KataAgent.Protocols.Guest.ImagePull;

namespace KataAgent.Agent.Server;

/// <summary>
/// kataagent.v1.Images: guest pull with what Kata's storage driver cannot carry (credentials, a CA, plain-HTTP
/// registries, a scratch disk) and the image's process in the answer. Every field is checked here, before anything
/// touches the filesystem; the pull itself runs in the guest pull helper, so a failing or absent helper is an error
/// status and the agent serves on.
/// </summary>
internal sealed partial class ImagesService(GuestImages images) : global::KataAgent.Protocols.Extensions.Images.ImagesBase
{
    /// <summary>Bounds on what a request may carry: a reference, a CA bundle, a secret, a command line.</summary>
    private const int MaxReference = 4096, MaxCaPem = 1 << 20, MaxSecret = 64 * 1024, MaxWord = 128 * 1024, MaxWords = 4096;

    [GeneratedRegex("^[a-z0-9_.-]+/[a-z0-9_.-]+(/[a-z0-9_.-]+)?$")]
    private static partial Regex PlatformSyntax();

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$")]
    private static partial Regex RegistrySyntax();

    public override async Task<PullImageResponse> PullImage(PullImageRequest request, ServerCallContext context)
    {
        var (pullRequest, storage) = Check(request);
        var (_, result) = await images.PullAsync(request.ContainerId, pullRequest, storage, "image", context.CancellationToken).ConfigureAwait(false);
        var process = result.Process!;
        var answer = new ImageProcess { Cwd = process.Cwd, Uid = process.Uid, Gid = process.Gid };
        answer.Args.AddRange(process.Args);
        answer.Env.AddRange(process.Env);
        answer.AdditionalGids.AddRange(process.AdditionalGids);
        return new PullImageResponse
        {
            Rootfs = GuestLayout.ContainerRootfs(request.ContainerId),
            ManifestDigest = result.ManifestDigest ?? "",
            Process = answer,
        };
    }

    /// <summary>Checks every field (INVALID_ARGUMENT naming it) and builds the helper's request.</summary>
    internal static (GuestPullRequest Request, GuestImageStorage Storage) Check(PullImageRequest request)
    {
        if (ContainerIds.Problem(request.ContainerId) is { } idProblem)
        {
            throw AgentException.InvalidArgument("container_id", idProblem);
        }
        string image = request.Image;
        if (image.Length is 0 or > MaxReference || image.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw AgentException.InvalidArgument("image", $"'{image}' is not an image reference (1 to {MaxReference} characters, no spaces or control characters)");
        }
        if (request.Platform.Length > 0 && !PlatformSyntax().IsMatch(request.Platform))
        {
            throw AgentException.InvalidArgument("platform", $"'{request.Platform}' is not os/arch[/variant]");
        }
        GuestPullCredentials? credentials = null;
        if (request.Credentials is { } given)
        {
            CheckSecret(given.Username, "credentials.username");
            CheckSecret(given.Password, "credentials.password");
            CheckSecret(given.IdentityToken, "credentials.identity_token");
            if (given.Username.Length + given.Password.Length + given.IdentityToken.Length > 0)
            {
                credentials = new GuestPullCredentials(given.Username, given.Password, given.IdentityToken.Length > 0 ? given.IdentityToken : null);
            }
        }
        if (request.CaPem.Length > MaxCaPem || request.CaPem.Contains('\0'))
        {
            throw AgentException.InvalidArgument("ca_pem", $"is longer than {MaxCaPem} bytes or holds a NUL byte");
        }
        if (request.CaPem.Length > 0 && !request.CaPem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw AgentException.InvalidArgument("ca_pem", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        for (int i = 0; i < request.PlainHttpRegistries.Count; i++)
        {
            string registry = request.PlainHttpRegistries[i];
            if (registry.Length > 255 || !RegistrySyntax().IsMatch(registry))
            {
                throw AgentException.InvalidArgument($"plain_http_registries[{i}]", $"'{registry}' is not a registry name (host[:port])");
            }
        }
        var storage = GuestImageStorage.Memory;
        switch (request.Storage?.KindCase)
        {
            case ImageStorage.KindOneofCase.Block:
                if (!PciPath.TryParse(request.Storage.Block.PciPath, out _, out string? error))
                {
                    throw AgentException.InvalidArgument("storage.block.pci_path", error);
                }
                storage = new GuestImageStorage(request.Storage.Block.PciPath, 0);
                break;
            case ImageStorage.KindOneofCase.Memory:
                storage = new GuestImageStorage(null, request.Storage.Memory.SizeMib);
                break;
        }
        CheckWords(request.Entrypoint, "entrypoint");
        CheckWords(request.Args, "args");
        CheckWords(request.Env, "env");
        for (int i = 0; i < request.Env.Count; i++)
        {
            if (request.Env[i].IndexOf('=') <= 0)
            {
                throw AgentException.InvalidArgument($"env[{i}]", $"'{request.Env[i]}' is not NAME=value");
            }
        }
        if (request.User.Length > 256 || request.User.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw AgentException.InvalidArgument("user", $"'{request.User}' is not user[:group]");
        }
        if (request.SetEntrypoint && request.Entrypoint.Count == 0 && !request.SetArgs)
        {
            throw AgentException.InvalidArgument("entrypoint", "set_entrypoint with no entrypoint and no args leaves nothing to run");
        }
        var pull = new GuestPullRequest
        {
            Image = image,
            Platform = request.Platform.Length > 0 ? request.Platform : null,
            Credentials = credentials,
            CaPem = request.CaPem.Length > 0 ? request.CaPem : null,
            PlainHttpRegistries = request.PlainHttpRegistries.ToArray(),
            // Set by GuestImages on the storage it prepares.
            StoreDirectory = "/",
            Rootfs = "/",
            Entrypoint = request.SetEntrypoint ? request.Entrypoint.ToArray() : null,
            Args = request.SetArgs ? request.Args.ToArray() : null,
            Env = request.Env.Count > 0 ? request.Env.ToArray() : null,
            User = request.User.Length > 0 ? request.User : null,
        };
        return (pull, storage);
    }

    private static void CheckSecret(string value, string field)
    {
        if (value.Length > MaxSecret || value.Contains('\0'))
        {
            throw AgentException.InvalidArgument(field, $"is longer than {MaxSecret} characters or holds a NUL byte");
        }
    }

    private static void CheckWords(Google.Protobuf.Collections.RepeatedField<string> words, string field)
    {
        if (words.Count > MaxWords)
        {
            throw AgentException.InvalidArgument(field, $"has more than {MaxWords} entries");
        }
        for (int i = 0; i < words.Count; i++)
        {
            if (words[i].Length > MaxWord || words[i].Contains('\0'))
            {
                throw AgentException.InvalidArgument($"{field}[{i}]", $"is longer than {MaxWord} characters or holds a NUL byte");
            }
        }
    }
}
