using System.Text.Json;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>
/// Where kactl keeps its sandboxes: one directory per sandbox (<c>/run/kactl/ID</c>, or under
/// <c>$KACTL_RUN_DIR</c>) holding the VM's state (sockets, logs) and kactl's sandbox.json. /run
/// is a tmpfs, so a reboot forgets sandboxes whose VMs it also ended.
/// </summary>
public sealed class RunDirectory
{
    /// <summary>Environment variable that moves the run directory (tests, unprivileged use).</summary>
    public const string Variable = "KACTL_RUN_DIR";

    /// <summary>The run directory when <see cref="Variable"/> is not set.</summary>
    public const string DefaultPath = "/run/kactl";

    /// <summary>kactl's file in each sandbox directory.</summary>
    public const string RecordFileName = "sandbox.json";

    // Ids are typed by people (exec, rm, console): short, but 32 random bits keep collisions rare
    // enough that the retry below practically never runs.
    private const int IdBytes = 4;

    public RunDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The run directory itself.</summary>
    public string Path { get; }

    /// <summary>The run directory named by <c>$KACTL_RUN_DIR</c>, else <c>/run/kactl</c>.</summary>
    public static RunDirectory FromEnvironment() =>
        new(Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path ? path : DefaultPath);

    /// <summary>Makes a fresh sandbox directory (mode 0700: it holds the VM's console) and returns its id: <paramref name="id"/>, or a new random one.</summary>
    /// <exception cref="KactlException">The id is taken (exit 2), or the run directory cannot be created or written.</exception>
    public string CreateSandboxDirectory(string? id = null)
    {
        try
        {
            Directory.CreateDirectory(Path);
            if (id is not null)
            {
                if (Directory.Exists(SandboxDirectory(id)))
                {
                    throw new KactlException(ExitCodes.Usage, $"a sandbox '{id}' exists already in {Path} ('kactl rm {id}' removes it)");
                }
                Directory.CreateDirectory(SandboxDirectory(id), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                return id;
            }
            while (true)
            {
                id = RandomIds.Hex(IdBytes);
                string directory = SandboxDirectory(id);
                if (Directory.Exists(directory))
                {
                    continue;
                }
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                return id;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KactlException(ExitCodes.Usage, $"cannot create a sandbox directory under {Path}: {e.Message} (run as root, or set {Variable} to a directory of yours)", e);
        }
    }

    /// <summary>The state directory of sandbox <paramref name="id"/> (which need not exist).</summary>
    public string SandboxDirectory(string id) => System.IO.Path.Combine(Path, id);

    /// <summary>Writes sandbox.json (whole or not at all: readers never see half a file).</summary>
    public void Save(RunRecord record)
    {
        string file = System.IO.Path.Combine(SandboxDirectory(record.Id), RecordFileName);
        string temporary = file + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(record, RunRecordJsonContext.Default.RunRecord));
        File.Move(temporary, file, overwrite: true);
    }

    /// <summary>Every sandbox directory, oldest first.</summary>
    public IReadOnlyList<SandboxEntry> List()
    {
        if (!Directory.Exists(Path))
        {
            return [];
        }
        return Directory.EnumerateDirectories(Path)
            .Select(directory => Read(System.IO.Path.GetFileName(directory)))
            .OrderBy(entry => entry.CreatedAt)
            .ThenBy(entry => entry.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The sandbox named <paramref name="idOrPrefix"/>: its full id or a prefix only it has.</summary>
    /// <exception cref="KactlException">Not a possible id, no such sandbox, or a prefix of several (exit 2).</exception>
    public SandboxEntry Find(string idOrPrefix)
    {
        if (!IsValidId(idOrPrefix))
        {
            throw new KactlException(ExitCodes.Usage, $"'{idOrPrefix}' is not a sandbox id (letters, digits, '-', '_' and '.', starting with a letter or digit)");
        }
        if (Directory.Exists(SandboxDirectory(idOrPrefix)))
        {
            return Read(idOrPrefix);
        }
        var matches = Directory.Exists(Path)
            ? Directory.EnumerateDirectories(Path, idOrPrefix + "*").Select(System.IO.Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];
        return matches.Count switch
        {
            1 => Read(matches[0]),
            0 => throw new KactlException(ExitCodes.Usage, $"no sandbox '{idOrPrefix}' in {Path} ('kactl ps' lists them)"),
            _ => throw new KactlException(ExitCodes.Usage, $"'{idOrPrefix}' is the start of several sandbox ids: {string.Join(", ", matches)}"),
        };
    }

    /// <summary>
    /// Deletes a sandbox's directory (sockets, logs, sandbox.json); a directory already gone is fine. Whatever is still
    /// mounted in it (the share's binds of the user's rootfs, the rootfs overlay) is detached first and the delete never
    /// crosses a mount (<see cref="StateDirectory.Delete"/>), so the user's files are never deleted through it.
    /// </summary>
    /// <exception cref="KactlException">A mount would not go (the directory stays).</exception>
    public void Remove(string id)
    {
        try
        {
            StateDirectory.Delete(SandboxDirectory(id));
        }
        catch (ShareException e)
        {
            throw new KactlException(ExitCodes.VmFailed, $"cannot delete {SandboxDirectory(id)}: {e.Message}", e);
        }
    }

    /// <summary>Ids become path components (no separators, no '.' or '..') and the agent's sandbox and container ids (its rule: no leading '-', '_' or '.').</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && char.IsAsciiLetterOrDigit(id[0]) && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private SandboxEntry Read(string id)
    {
        string directory = SandboxDirectory(id);
        RunRecord? record = null;
        try
        {
            record = JsonSerializer.Deserialize(File.ReadAllBytes(System.IO.Path.Combine(directory, RecordFileName)), RunRecordJsonContext.Default.RunRecord);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Missing (still booting, or its kactl died first) or unreadable: listed as incomplete.
        }
        var state = record is null ? SandboxLiveness.Incomplete
            : QemuVm.IsRunningIn(directory) ? SandboxLiveness.Running
            : SandboxLiveness.Stopped;
        return new SandboxEntry(id, directory, record, state);
    }
}
