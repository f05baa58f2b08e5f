using System.Text.Json.Nodes;

namespace KataAgent.Tests.HostContainers;

/// <summary>config.json as <c>crun spec</c> writes it (crun 1.x defaults), with the process
/// arguments, terminal flag and root path a test needs.</summary>
public static class CrunSpecJson
{
    /// <summary>The JSON text, tab-indented like crun's own output.</summary>
    public const string Template = """
        {
        	"ociVersion": "1.0.0",
        	"process": {
        		"terminal": true,
        		"user": {
        			"uid": 0,
        			"gid": 0
        		},
        		"args": [
        			"/bin/sh"
        		],
        		"env": [
        			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        			"TERM=xterm"
        		],
        		"cwd": "/",
        		"capabilities": {
        			"bounding": [
        				"CAP_AUDIT_WRITE",
        				"CAP_KILL",
        				"CAP_NET_BIND_SERVICE"
        			],
        			"effective": [
        				"CAP_AUDIT_WRITE",
        				"CAP_KILL",
        				"CAP_NET_BIND_SERVICE"
        			],
        			"inheritable": [
        			],
        			"permitted": [
        				"CAP_AUDIT_WRITE",
        				"CAP_KILL",
        				"CAP_NET_BIND_SERVICE"
        			],
        			"ambient": [
        				"CAP_AUDIT_WRITE",
        				"CAP_KILL",
        				"CAP_NET_BIND_SERVICE"
        			]
        		},
        		"rlimits": [
        			{
        				"type": "RLIMIT_NOFILE",
        				"hard": 1024,
        				"soft": 1024
        			}
        		],
        		"noNewPrivileges": true
        	},
        	"root": {
        		"path": "rootfs",
        		"readonly": true
        	},
        	"hostname": "crun",
        	"mounts": [
        		{
        			"destination": "/proc",
        			"type": "proc",
        			"source": "proc"
        		},
        		{
        			"destination": "/dev",
        			"type": "tmpfs",
        			"source": "tmpfs",
        			"options": [
        				"nosuid",
        				"strictatime",
        				"mode=755",
        				"size=65536k"
        			]
        		},
        		{
        			"destination": "/sys",
        			"type": "sysfs",
        			"source": "sysfs",
        			"options": [
        				"nosuid",
        				"noexec",
        				"nodev",
        				"ro"
        			]
        		},
        		{
        			"destination": "/dev/pts",
        			"type": "devpts",
        			"source": "devpts",
        			"options": [
        				"nosuid",
        				"noexec",
        				"newinstance",
        				"ptmxmode=0666",
        				"mode=0620",
        				"gid=5"
        			]
        		},
        		{
        			"destination": "/dev/mqueue",
        			"type": "mqueue",
        			"source": "mqueue",
        			"options": [
        				"nosuid",
        				"noexec",
        				"nodev"
        			]
        		},
        		{
        			"destination": "/sys/fs/cgroup",
        			"type": "cgroup",
        			"source": "cgroup",
        			"options": [
        				"rprivate",
        				"nosuid",
        				"noexec",
        				"nodev",
        				"relatime",
        				"ro"
        			]
        		}
        	],
        	"linux": {
        		"resources": {
        			"devices": [
        				{
        					"allow": false,
        					"access": "rwm"
        				}
        			]
        		},
        		"namespaces": [
        			{
        				"type": "pid"
        			},
        			{
        				"type": "network"
        			},
        			{
        				"type": "ipc"
        			},
        			{
        				"type": "uts"
        			},
        			{
        				"type": "cgroup"
        			},
        			{
        				"type": "mount"
        			}
        		],
        		"maskedPaths": [
        			"/proc/acpi",
        			"/proc/asound",
        			"/proc/kcore",
        			"/proc/keys",
        			"/proc/latency_stats",
        			"/proc/timer_list",
        			"/proc/timer_stats",
        			"/proc/sched_debug",
        			"/sys/firmware",
        			"/proc/scsi"
        		],
        		"readonlyPaths": [
        			"/proc/bus",
        			"/proc/fs",
        			"/proc/irq",
        			"/proc/sys",
        			"/proc/sysrq-trigger"
        		]
        	}
        }
        """;

    /// <summary>
    /// The template with <paramref name="args"/>, <paramref name="terminal"/> and <paramref name="rootPath"/> put in,
    /// ready to run on kata-agent: without <c>process.capabilities.ambient</c>.
    /// </summary>
    /// <remarks>
    /// crun spec lists ambient capabilities but (since CVE-2022-27650) no inheritable ones, so raising them
    /// fails with EPERM; crun and runc ignore that failure, kata-agent's init helper
    /// (Containers/Init/Credentials.cs) fails the start with "raise ambient capability 5: EPERM".
    /// Until the agent does as they do, bundles that are run leave ambient out.
    /// </remarks>
    public static string With(string rootPath, bool terminal, params string[] args)
    {
        var config = JsonNode.Parse(Template)!.AsObject();
        config["process"]!["capabilities"]!.AsObject().Remove("ambient");
        config["process"]!["terminal"] = terminal;
        config["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        config["root"]!["path"] = rootPath;
        return config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes a bundle directory: DIRECTORY/config.json naming <paramref name="rootPath"/>.</summary>
    public static string WriteBundle(string directory, string rootPath, bool terminal, params string[] args)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), With(rootPath, terminal, args));
        return directory;
    }
}
