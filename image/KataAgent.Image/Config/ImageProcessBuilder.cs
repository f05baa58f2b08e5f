using System.Globalization;
using KataAgent.Image.Manifests;

namespace KataAgent.Image.Config;

/// <summary>
/// Turns an image config into the container's process as docker and Kubernetes do: a caller's entrypoint
/// (Kubernetes' <c>command</c>, docker's <c>--entrypoint</c>) replaces the image's Entrypoint and drops its Cmd; a
/// caller's arguments (Kubernetes' <c>args</c>, the words after the image in <c>docker run</c>) replace Cmd. Names in
/// User are resolved in the unpacked rootfs's /etc/passwd and /etc/group, read without following links out of it;
/// an unknown name is an error naming it.
/// </summary>
public static class ImageProcessBuilder
{
    /// <summary>docker's PATH for an image that sets none.</summary>
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    // runc's limit: ids above it are refused by the kernel's user namespace maps and by runc itself.
    private const uint MaxId = int.MaxValue;

    /// <summary>
    /// Builds the process of <paramref name="config"/> with the caller's overrides (null keeps the image's).
    /// Args: <paramref name="entrypoint"/> (even empty) ++ <paramref name="args"/> when an entrypoint is given; else the
    /// image's Entrypoint ++ (<paramref name="args"/> ?? the image's Cmd). Env: the image's, then
    /// <paramref name="extraEnv"/> (<c>NAME=value</c>) replacing entries of the same name in place or appended, then
    /// docker's PATH when neither set one. Cwd: the image's WorkingDir, <c>/</c> when empty. User
    /// (<paramref name="user"/> ?? the image's): <c>user</c>, <c>uid</c>, <c>user:group</c>, <c>uid:gid</c>,
    /// <c>uid:group</c>, <c>user:gid</c>; empty is root. A name is looked up in the rootfs's /etc/passwd (its uid and
    /// primary gid) or /etc/group; a numeric uid found in /etc/passwd takes that entry's primary gid and groups, one
    /// not found runs with gid 0. AdditionalGids: the groups in /etc/group listing the user's name as a member, other
    /// than the primary gid.
    /// </summary>
    /// <exception cref="ImageException">
    /// <see cref="ImageErrorKind.InvalidInput"/>: no command at all, a relative WorkingDir, an env entry without a
    /// name, an unknown user or group name, an id out of range, an unreadable /etc/passwd or /etc/group.
    /// </exception>
    public static ImageProcess Build(
        ImageConfig config,
        string rootfsDirectory,
        IReadOnlyList<string>? entrypoint,
        IReadOnlyList<string>? args,
        IReadOnlyList<string>? extraEnv,
        string? user)
    {
        ArgumentNullException.ThrowIfNull(config);
        var run = config.Config ?? new ImageRunConfig();
        var processArgs = BuildArgs(run, entrypoint, args);
        var env = BuildEnv(run.Env, extraEnv);
        string cwd = string.IsNullOrEmpty(run.WorkingDir) ? "/" : run.WorkingDir;
        if (!cwd.StartsWith('/'))
            throw new ImageException(ImageErrorKind.InvalidInput, $"the image's WorkingDir '{cwd}' is not an absolute path");
        var (uid, gid, groups) = ResolveUser(user ?? run.User ?? "", rootfsDirectory);
        return new ImageProcess(processArgs, env, cwd, uid, gid, groups);
    }

    private static List<string> BuildArgs(ImageRunConfig run, IReadOnlyList<string>? entrypoint, IReadOnlyList<string>? args)
    {
        var result = entrypoint is not null
            ? [.. entrypoint, .. args ?? []]
            : new List<string>([.. run.Entrypoint ?? [], .. args ?? run.Cmd ?? []]);
        if (result.Count == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, "the image config has neither Entrypoint nor Cmd, and no command was given");
        if (result[0].Length == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, "the process's executable (its first argument) is empty");
        return result;
    }

    private static List<string> BuildEnv(IReadOnlyList<string>? imageEnv, IReadOnlyList<string>? extraEnv)
    {
        var env = new List<string>(imageEnv ?? []);
        foreach (string entry in extraEnv ?? [])
        {
            int equals = entry.IndexOf('=');
            if (equals <= 0)
                throw new ImageException(ImageErrorKind.InvalidInput, $"environment entry '{entry}' is not NAME=value");
            string prefix = entry[..(equals + 1)];
            int existing = env.FindIndex(e => e.StartsWith(prefix, StringComparison.Ordinal) || e == prefix[..^1]);
            if (existing >= 0)
            {
                env[existing] = entry;
                env.RemoveAll(e => !ReferenceEquals(e, entry) && (e.StartsWith(prefix, StringComparison.Ordinal) || e == prefix[..^1]));
            }
            else
            {
                env.Add(entry);
            }
        }
        if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)))
            env.Add(DefaultPath);
        return env;
    }

    private static (uint Uid, uint Gid, IReadOnlyList<uint> Groups) ResolveUser(string spec, string rootfsDirectory)
    {
        int colon = spec.IndexOf(':');
        string userPart = colon < 0 ? spec : spec[..colon];
        string? groupPart = colon < 0 ? null : spec[(colon + 1)..];
        if (colon >= 0 && (userPart.Length == 0 || groupPart!.Length == 0))
            throw new ImageException(ImageErrorKind.InvalidInput, $"user '{spec}' is not user, uid, user:group or uid:gid");
        if (userPart.Length == 0)
            userPart = "0";

        bool numericUser = TryParseId(userPart, "uid", out uint uid);
        bool numericGroup = false;
        uint gid = 0;
        if (groupPart is not null)
            numericGroup = TryParseId(groupPart, "gid", out gid);

        // Numeric ids alone need no lookup, but the user's name (for its groups) still comes from /etc/passwd.
        var database = ImageUserDatabase.Read(rootfsDirectory);
        PasswdEntry? entry;
        if (numericUser)
        {
            entry = database.Users?.FirstOrDefault(u => u.Uid == uid);
        }
        else
        {
            if (database.Users is null)
                throw new ImageException(ImageErrorKind.InvalidInput, $"user '{userPart}' cannot be resolved: the image has no /etc/passwd");
            entry = database.Users.FirstOrDefault(u => u.Name == userPart)
                ?? throw new ImageException(ImageErrorKind.InvalidInput, $"user '{userPart}' is not in the image's /etc/passwd");
            uid = entry.Uid;
        }

        if (groupPart is null)
        {
            gid = entry?.Gid ?? 0;
        }
        else if (!numericGroup)
        {
            if (database.Groups is null)
                throw new ImageException(ImageErrorKind.InvalidInput, $"group '{groupPart}' cannot be resolved: the image has no /etc/group");
            gid = (database.Groups.FirstOrDefault(g => g.Name == groupPart)
                ?? throw new ImageException(ImageErrorKind.InvalidInput, $"group '{groupPart}' is not in the image's /etc/group")).Gid;
        }
        if (uid > MaxId || gid > MaxId)
            throw new ImageException(ImageErrorKind.InvalidInput, $"user '{spec}' resolves to uid {uid}, gid {gid}: ids above {MaxId} are not allowed");

        var groups = new List<uint>();
        if (entry is not null && database.Groups is not null)
        {
            foreach (var group in database.Groups)
            {
                if (group.Gid != gid && group.Members.Contains(entry.Name) && !groups.Contains(group.Gid))
                    groups.Add(group.Gid);
            }
        }
        return (uid, gid, groups);
    }

    private static bool TryParseId(string text, string what, out uint id)
    {
        id = 0;
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
            return false;
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) || id > MaxId)
            throw new ImageException(ImageErrorKind.InvalidInput, $"{what} {text} is out of range (0-{MaxId})");
        return true;
    }
}
