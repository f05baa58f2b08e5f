using System.CommandLine;
using System.CommandLine.Parsing;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Image.Store;
using KataAgent.Kactl.Images;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary><c>kactl run [VM options] IMAGE [-- CMD…]</c>: the image pulled as <c>--pull</c> says, unpacked into the sandbox's state, its process run.</summary>
public sealed partial class RunCommand
{
    /// <summary>
    /// The positional words split at <c>--</c>: those before it (the image, one at most) and those after it (the
    /// command). System.CommandLine hands them to one argument; everything after <c>--</c> is an argument token, so
    /// the last as many words as follow the <c>--</c> token are the command.
    /// </summary>
    public static (IReadOnlyList<string> BeforeDoubleDash, IReadOnlyList<string> AfterDoubleDash) SplitAtDoubleDash(ParseResult parseResult, IReadOnlyList<string> words)
    {
        int doubleDash = -1;
        for (int i = 0; i < parseResult.Tokens.Count; i++)
        {
            if (parseResult.Tokens[i].Type == TokenType.DoubleDash)
            {
                doubleDash = i;
                break;
            }
        }
        int after = doubleDash < 0 ? 0 : Math.Min(words.Count, parseResult.Tokens.Count - doubleDash - 1);
        return (words.Take(words.Count - after).ToList(), words.Skip(words.Count - after).ToList());
    }

    /// <summary>The image settings of the command line, checked (exit 2 for what does not go together).</summary>
    private (string? Image, ImageProcessOverrides Overrides, PullPolicy Policy) ReadImageSettings(ParseResult parseResult, IReadOnlyList<string> words)
    {
        var (before, after) = SplitAtDoubleDash(parseResult, words);
        if (before.Count > 1)
        {
            throw new KactlException(ExitCodes.Usage, $"one image, then the command after --: kactl run IMAGE -- CMD… (got '{string.Join(' ', before)}' before --)");
        }
        string? image = before.Count == 1 ? before[0] : null;
        string? workdir = parseResult.GetValue(_workdir);
        if (workdir is not null && !workdir.StartsWith('/'))
        {
            throw new KactlException(ExitCodes.Usage, $"--workdir '{workdir}' is not an absolute path");
        }
        var env = parseResult.GetValue(_env) ?? [];
        foreach (string entry in env)
        {
            if (entry.IndexOf('=') <= 0)
            {
                throw new KactlException(ExitCodes.Usage, $"--env '{entry}' is not NAME=VALUE");
            }
        }
        if (image is null)
        {
            foreach (Option imageOnly in (Option[])[_entrypoint, _user, _pull, _images.Store, .. _images.RegistryOptions])
            {
                if (parseResult.GetResult(imageOnly) is { Implicit: false })
                {
                    throw new KactlException(ExitCodes.Usage, $"{imageOnly.Name} is for an image run (kactl run IMAGE [-- CMD…])");
                }
            }
        }
        else if (parseResult.GetResult(_rootfs) is { Implicit: false })
        {
            throw new KactlException(ExitCodes.Usage, $"an image ('{image}') and --rootfs do not go together: the container's rootfs is the image's, or the directory's");
        }
        string? entrypoint = parseResult.GetValue(_entrypoint);
        var overrides = new ImageProcessOverrides
        {
            // docker's rule: --entrypoint takes the executable; the words after the image are its arguments.
            Entrypoint = entrypoint is null ? null : entrypoint.Length == 0 ? [] : [entrypoint],
            Args = image is null || after.Count > 0 ? after : null,
            Env = env.Length > 0 ? env : null,
            User = parseResult.GetValue(_user),
            WorkingDirectory = workdir,
        };
        var policy = parseResult.GetValue(_pull) switch
        {
            "always" => PullPolicy.Always,
            "never" => PullPolicy.Never,
            _ => PullPolicy.Missing,
        };
        return (image, overrides, policy);
    }

    /// <summary>The image in the store, pulled first if <c>--pull</c> says so, with progress on stderr.</summary>
    private static Task<StoredImage> EnsureImageAsync(HostImages images, VmRunRequest request, CancellationToken cancellationToken) =>
        PullDisplays.RunAsync(request.Display, $"pull {request.Image}",
            progress => images.EnsureAsync(request.Image!, request.PullPolicy, request.Platform, progress, cancellationToken));

    /// <summary>The container of the stored image: unpacked into the sandbox's state (progress on stderr), its process put into kactl's spec.</summary>
    private static Task<Container> CreateImageContainerAsync(
        Sandbox sandbox, string id, HostImages images, StoredImage image, VmRunRequest request, ContainerOptions options, Action<Spec> editSpec, CancellationToken cancellationToken) =>
        PullDisplays.RunAsync(request.Display, $"unpack {image.Name}",
            progress => sandbox.CreateContainerFromImageAsync(id, images, image.ManifestDigest.ToString(), new ImageContainerOptions
            {
                Overrides = request.Overrides,
                Terminal = request.Terminal,
                EditSpec = editSpec,
                Progress = progress,
            }, options, cancellationToken));

    /// <summary>What a rootfs run takes of the overrides: extra environment entries (replacing by name) and the working directory.</summary>
    private static void ApplyRootfsOverrides(Spec spec, ImageProcessOverrides overrides)
    {
        foreach (string entry in overrides.Env ?? [])
        {
            string prefix = entry[..(entry.IndexOf('=') + 1)];
            int existing = spec.Process.Env.ToList().FindIndex(e => e.StartsWith(prefix, StringComparison.Ordinal));
            if (existing >= 0)
            {
                spec.Process.Env[existing] = entry;
            }
            else
            {
                spec.Process.Env.Add(entry);
            }
        }
        if (overrides.WorkingDirectory is { } cwd)
        {
            spec.Process.Cwd = cwd;
        }
    }
}
