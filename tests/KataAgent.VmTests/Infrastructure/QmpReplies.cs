using System.Text.Json;

namespace KataAgent.VmTests.Infrastructure;

/// <summary>What the VM tests read out of qemu's QMP answers.</summary>
public static class QmpReplies
{
    /// <summary>The image files of the block devices qemu has attached, in query-block's order.</summary>
    public static List<string> ImagesInQueryBlock(JsonElement blocks) =>
        [.. blocks.EnumerateArray().Where(b => b.TryGetProperty("inserted", out _)).Select(b => b.GetProperty("inserted").GetProperty("file").GetString()!)];
}
