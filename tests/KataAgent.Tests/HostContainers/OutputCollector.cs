using System.Text;

namespace KataAgent.Tests.HostContainers;

/// <summary>Reads a stream to its end in the background, so a test can wait for text to show up before it is complete.</summary>
public sealed class OutputCollector
{
    private readonly StringBuilder _text = new();
    private readonly SemaphoreSlim _changed = new(0);

    public OutputCollector(Stream stream)
    {
        Completion = ReadAsync(stream);
    }

    /// <summary>Everything, once the stream ended.</summary>
    public Task<string> Completion { get; }

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>Waits until the text read so far contains <paramref name="expected"/>.</summary>
    public async Task WaitForAsync(string expected, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (!Text.Contains(expected, StringComparison.Ordinal))
        {
            if (Completion.IsCompleted)
            {
                throw new InvalidOperationException($"the stream ended without '{expected}'; it held: {Text}");
            }
            try
            {
                await _changed.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{expected}' after {timeout.TotalSeconds} s; so far: {Text}");
            }
        }
    }

    private async Task<string> ReadAsync(Stream stream)
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[16 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(bytes);
                int count = decoder.GetChars(bytes, 0, n, chars, 0, flush: n == 0);
                lock (_text)
                {
                    _text.Append(chars, 0, count);
                }
                _changed.Release();
                if (n == 0)
                {
                    return Text;
                }
            }
        }
        finally
        {
            _changed.Release();
        }
    }
}
