namespace KataAgent.Image.Layers;

/// <summary>How a layer blob is compressed.</summary>
internal enum LayerCompression
{
    /// <summary>A plain tar.</summary>
    None,
    /// <summary>gzip (RFC 1952), possibly several members.</summary>
    Gzip,
    /// <summary>Zstandard frames.</summary>
    Zstd,
}
