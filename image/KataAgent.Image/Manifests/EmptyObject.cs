namespace KataAgent.Image.Manifests;

/// <summary>The <c>{}</c> values of the image config's set-like maps (ExposedPorts, Volumes).</summary>
public sealed record EmptyObject;
