namespace KataAgent.Host.VhostUser;

/// <summary>The front-end sent something that is not vhost-user (a bad version, a payload of the wrong size): the connection is closed.</summary>
internal sealed class VhostUserProtocolException(string message) : Exception(message);
