namespace KataAgent.Testing.Registry;

/// <summary>What kind of registry <see cref="TestRegistry.StartAsync"/> runs.</summary>
public sealed record TestRegistryOptions
{
    /// <summary>HTTPS with a server certificate from a test CA (made by openssl for this registry); HTTP otherwise.</summary>
    public bool Tls { get; init; }

    /// <summary>How clients authenticate.</summary>
    public TestRegistryAuth Auth { get; init; } = TestRegistryAuth.None;

    /// <summary>The one user of Basic or token auth.</summary>
    public string User { get; init; } = "tester";

    /// <summary>That user's password.</summary>
    public string Password { get; init; } = "s3cret-" + Guid.NewGuid().ToString("N")[..8];
}
