namespace KataAgent.Host;

/// <summary>
/// The agent did not answer Health.Check before the connect deadline. The message names the
/// address, how many attempts were made over how long, and the last failure.
/// </summary>
public sealed class AgentConnectException : KataAgentException
{
    /// <summary>Creates the exception for <paramref name="address"/> after <paramref name="attempts"/> attempts.</summary>
    public AgentConnectException(string address, int attempts, TimeSpan elapsed, Exception? lastError)
        : base(KataAgentErrorKind.Connect, $"could not reach the agent at {address}: {attempts} attempt{(attempts == 1 ? "" : "s")} over {elapsed.TotalMilliseconds:0} ms; last error: {Describe(lastError)}", lastError)
    {
        Address = address;
        Attempts = attempts;
        Elapsed = elapsed;
    }

    /// <summary>The address that was tried.</summary>
    public string Address { get; }

    /// <summary>Connection attempts made.</summary>
    public int Attempts { get; }

    /// <summary>Time spent trying.</summary>
    public TimeSpan Elapsed { get; }

    private static string Describe(Exception? error)
    {
        if (error is null)
        {
            return "none (cancelled before the first attempt)";
        }
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (!messages.Any(m => m.Contains(e.Message, StringComparison.Ordinal)))
            {
                messages.Add(e.Message);
            }
        }
        return string.Join(" <- ", messages);
    }
}
