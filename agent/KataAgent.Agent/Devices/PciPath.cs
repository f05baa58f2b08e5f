using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace KataAgent.Agent.Devices;

/// <summary>
/// Kata's PCI path: the slot numbers from the root bus down to a device, each two lower-case hex
/// digits, '/'-separated, function 0 assumed. "10/00" is the device in slot 0 of the bus behind
/// the bridge (or PCIe root port) in slot 0x10 of root bus 0000:00. Unlike a bus:device.function
/// address it does not depend on the bus numbers the guest firmware happened to assign, so the
/// host can name a device it plugged without asking the guest.
/// </summary>
public sealed class PciPath : IEquatable<PciPath>
{
    /// <summary>Slots of a conventional PCI bus: 0..31.</summary>
    public const int MaxSlot = 0x1f;

    /// <summary>Bridges nest rarely more than a few levels; a longer path is garbage, not a topology.</summary>
    public const int MaxDepth = 16;

    private PciPath(IReadOnlyList<int> slots)
    {
        Slots = slots;
    }

    /// <summary>The slots, root bus first.</summary>
    public IReadOnlyList<int> Slots { get; }

    /// <summary>Parses Kata's text form; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static PciPath Parse(string text) =>
        TryParse(text, out var path, out string? error) ? path : throw new FormatException(error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out PciPath? path, [NotNullWhen(false)] out string? error)
    {
        path = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a PCI path is empty; expected slots like '02' or '10/00'";
            return false;
        }
        string[] parts = text.Split('/');
        if (parts.Length > MaxDepth)
        {
            error = $"'{text}' has {parts.Length} levels; at most {MaxDepth} are allowed";
            return false;
        }
        var slots = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            if (part.Length != 2 || !part.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'))
                || !int.TryParse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int slot))
            {
                error = $"'{text}' is not a PCI path: '{part}' is not a slot of two lower-case hex digits";
                return false;
            }
            if (slot > MaxSlot)
            {
                error = $"'{text}' is not a PCI path: slot 0x{part} is above 0x{MaxSlot:x2}";
                return false;
            }
            slots[i] = slot;
        }
        path = new PciPath(slots);
        error = null;
        return true;
    }

    public override string ToString() => string.Join('/', Slots.Select(s => s.ToString("x2", CultureInfo.InvariantCulture)));

    public bool Equals(PciPath? other) => other is not null && Slots.SequenceEqual(other.Slots);

    public override bool Equals(object? obj) => obj is PciPath other && Equals(other);

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
}
