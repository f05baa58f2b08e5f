namespace KataAgent.Agent.Transport;

/// <summary>
/// Finds the device node of a virtio-serial port by its name. Without udev there is no
/// /dev/virtio-ports/NAME link, so the name is looked up in /sys/class/virtio-ports/*/name.
/// </summary>
public static class SerialPortResolver
{
    /// <summary>Returns /dev/vportNpM for <paramref name="portName"/>, or null if no port has that name (yet).</summary>
    public static string? Resolve(string portName, string sysClassDirectory = "/sys/class/virtio-ports", string devDirectory = "/dev")
    {
        string udevLink = Path.Combine(devDirectory, "virtio-ports", portName);
        if (File.Exists(udevLink))
        {
            return udevLink;
        }
        if (!Directory.Exists(sysClassDirectory))
        {
            return null;
        }
        foreach (string port in Directory.EnumerateDirectories(sysClassDirectory))
        {
            string nameFile = Path.Combine(port, "name");
            try
            {
                if (File.ReadAllText(nameFile).Trim() == portName)
                {
                    return Path.Combine(devDirectory, Path.GetFileName(port));
                }
            }
            catch (IOException)
            {
                // A port that is going away while we look; skip it.
            }
        }
        return null;
    }
}
