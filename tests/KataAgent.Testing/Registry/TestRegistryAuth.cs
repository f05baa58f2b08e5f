namespace KataAgent.Testing.Registry;

/// <summary>How a <see cref="TestRegistry"/> authenticates clients.</summary>
public enum TestRegistryAuth
{
    /// <summary>Anyone pulls and pushes.</summary>
    None,

    /// <summary>docker-registry's htpasswd auth (<c>Basic realm=…</c>), one bcrypt user.</summary>
    Basic,

    /// <summary>docker-registry's token auth: a Bearer challenge naming <see cref="TestTokenServer"/>'s realm.</summary>
    Token,
}
