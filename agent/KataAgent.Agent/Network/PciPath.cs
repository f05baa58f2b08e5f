using System.Globalization;

namespace KataAgent.Agent.Network;

/// <summary>
/// A PCI path as Kata's runtime writes it: the slot of the device on each bridge from the root
/// bus down, two hex digits each, joined by '/' (e.g. "02/01": slot 2 of the root bus is a
/// bridge, the NIC is slot 1 behind it). Function 0 everywhere.
/// </summary>
public sealed record PciPath(IReadOnlyList<int> Slots)
{
    /// <summary>PCI slots are 5 bits.</summary>
    public const int MaxSlot = 0x1f;

    public static bool TryParse(string? text, out PciPath path)
    {
        path = new PciPath([]);
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var slots = new List<int>();
        foreach (string part in text.Split('/'))
        {
            if (part.Length is < 1 or > 2 || !int.TryParse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int slot) || slot > MaxSlot)
            {
                return false;
            }
            slots.Add(slot);
        }
        path = new PciPath(slots);
        return true;
    }

    public override string ToString() => string.Join('/', Slots.Select(s => s.ToString("x2", CultureInfo.InvariantCulture)));
}
