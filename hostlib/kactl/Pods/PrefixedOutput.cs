using System.Text;

namespace KataAgent.Kactl.Pods;

/// <summary>
/// Copies the output of several containers to kactl's stdout or stderr, each line led by its container's name as
/// <c>kubectl logs --prefix</c> leads it (<c>[name] line</c>). Whole lines are written at once, so lines of different
/// containers never mix; a last line without a newline is written when its stream ends.
/// </summary>
internal sealed class PrefixedOutput
{
    private readonly object _lock = new();

    /// <summary>Whether to lead lines with the container's name (false: the bytes as they are, for a single container).</summary>
    public bool Prefix { get; init; } = true;

    /// <summary>Copies <paramref name="stream"/> to <paramref name="fd"/> until it ends; false once the reader of <paramref name="fd"/> is gone.</summary>
    public async Task<bool> CopyAsync(string name, Stream stream, int fd, CancellationToken cancellationToken)
    {
        byte[] prefix = Encoding.UTF8.GetBytes($"[{name}] ");
        var pending = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (!Prefix)
            {
                if (!Write(fd, buffer.AsSpan(0, n)))
                {
                    return false;
                }
                continue;
            }
            int start = 0;
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }
                pending.Write(buffer, start, i + 1 - start);
                start = i + 1;
                if (!WriteLine(fd, prefix, pending))
                {
                    return false;
                }
            }
            pending.Write(buffer, start, n - start);
        }
        if (pending.Length > 0)
        {
            pending.WriteByte((byte)'\n');
            return WriteLine(fd, prefix, pending);
        }
        return true;
    }

    private bool WriteLine(int fd, byte[] prefix, MemoryStream line)
    {
        var bytes = new byte[prefix.Length + line.Length];
        prefix.CopyTo(bytes, 0);
        line.GetBuffer().AsSpan(0, (int)line.Length).CopyTo(bytes.AsSpan(prefix.Length));
        line.SetLength(0);
        return Write(fd, bytes);
    }

    private bool Write(int fd, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            return StandardStreams.WriteAll(fd, bytes);
        }
    }
}
