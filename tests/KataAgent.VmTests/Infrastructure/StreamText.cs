using System.Text;

namespace KataAgent.VmTests.Infrastructure;

/// <summary>A container process's output as text.</summary>
public static class StreamText
{
    /// <summary>Everything <paramref name="stream"/> yields until its end, as UTF-8.</summary>
    public static async Task<string> ReadAllAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }
}
