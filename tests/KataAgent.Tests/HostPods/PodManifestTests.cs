using FluentAssertions;
using KataAgent.Host.Pods;
using Xunit;

namespace KataAgent.Tests.HostPods;

/// <summary><see cref="PodManifest"/>: Kubernetes Pod manifests (YAML and JSON) into <see cref="PodSpec"/>, and every refusal naming its field.</summary>
public sealed class PodManifestTests
{
    private const string TwoContainers = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: shop
          labels:
            app: web
          annotations:
            example.com/owner: "team-a"
        spec:
          restartPolicy: Never
          hostname: web-1
          dnsConfig:
            nameservers: ["10.0.0.10"]
            searches: [shop.svc.cluster.local, svc.cluster.local.]
            options:
              - name: ndots
                value: "2"
              - name: edns0
          containers:
            - name: app
              image: docker.io/library/busybox:1.36
              command: ["/bin/sh", "-c"]
              args: ["echo hi > /data/x; sleep 1"]
              workingDir: /srv
              env:
                - name: MODE
                  value: "production"
                - name: EMPTY
              resources:
                requests:
                  cpu: 250m
                  memory: 64Mi
                limits:
                  cpu: "1.5"
                  memory: 1.5Gi
              volumeMounts:
                - name: shared
                  mountPath: /data
                - name: config
                  mountPath: /etc/app
                  readOnly: true
                  subPath: app
              ports:
                - containerPort: 8080
                  name: http
                - containerPort: 53
                  protocol: UDP
              securityContext:
                runAsUser: 1000
                runAsGroup: 1000
                readOnlyRootFilesystem: true
                privileged: false
                capabilities:
                  add: [NET_BIND_SERVICE, cap_net_raw]
                  drop: [ALL]
              tty: true
              stdin: yes
            - name: sidecar
              image: busybox
              resources:
                limits:
                  cpu: 500m
                  memory: 128Mi
              volumeMounts:
                - name: shared
                  mountPath: /data
          volumes:
            - name: shared
              emptyDir:
                medium: Memory
                sizeLimit: 64Mi
            - name: config
              hostPath:
                path: /etc/web
                type: Directory
            - name: scratch
        """;

    [Fact]
    public void A_two_container_manifest_loads_every_supported_field()
    {
        var pod = PodManifest.Parse(TwoContainers);

        pod.Name.Should().Be("web");
        pod.Namespace.Should().Be("shop");
        pod.Labels.Should().Equal(new Dictionary<string, string> { ["app"] = "web" });
        pod.Annotations.Should().Equal(new Dictionary<string, string> { ["example.com/owner"] = "team-a" });
        pod.RestartPolicy.Should().Be(PodRestartPolicy.Never);
        pod.Hostname.Should().Be("web-1");
        pod.DnsConfig!.Nameservers.Should().Equal("10.0.0.10");
        pod.DnsConfig.Searches.Should().Equal("shop.svc.cluster.local", "svc.cluster.local.");
        pod.DnsConfig.Options.Should().Equal("ndots:2", "edns0");
        pod.StartGate.Should().BeNull();

        pod.Containers.Should().HaveCount(2);
        var app = pod.Containers[0];
        app.Name.Should().Be("app");
        app.Image.Should().Be("docker.io/library/busybox:1.36");
        app.Rootfs.Should().BeNull();
        app.Command.Should().Equal("/bin/sh", "-c");
        app.Args.Should().Equal("echo hi > /data/x; sleep 1");
        app.WorkingDir.Should().Be("/srv");
        app.Env.Should().Equal(new PodEnvVar("MODE", "production"), new PodEnvVar("EMPTY", ""));
        app.Resources.Should().Be(new PodResources
        {
            CpuRequestMilli = 250,
            CpuLimitMilli = 1500,
            MemoryRequestBytes = 64L << 20,
            MemoryLimitBytes = 1536L << 20,
        });
        app.VolumeMounts.Should().Equal(
            new PodVolumeMount { Name = "shared", MountPath = "/data" },
            new PodVolumeMount { Name = "config", MountPath = "/etc/app", ReadOnly = true, SubPath = "app" });
        app.Ports.Should().Equal(
            new PodContainerPort { ContainerPort = 8080, Name = "http" },
            new PodContainerPort { ContainerPort = 53, Protocol = "UDP" });
        app.SecurityContext!.RunAsUser.Should().Be(1000);
        app.SecurityContext.RunAsGroup.Should().Be(1000);
        app.SecurityContext.ReadOnlyRootFilesystem.Should().BeTrue();
        app.SecurityContext.AddCapabilities.Should().Equal("NET_BIND_SERVICE", "NET_RAW");
        app.SecurityContext.DropCapabilities.Should().Equal("ALL");
        app.Tty.Should().BeTrue();
        app.Stdin.Should().BeTrue(); // YAML 1.1's yes, as Kubernetes reads it

        var sidecar = pod.Containers[1];
        sidecar.Command.Should().BeNull();
        sidecar.Args.Should().BeNull();
        sidecar.WorkingDir.Should().BeNull();
        sidecar.SecurityContext.Should().BeNull();
        // Kubernetes' defaulting: requests default to the limits.
        sidecar.Resources.Should().Be(new PodResources { CpuRequestMilli = 500, CpuLimitMilli = 500, MemoryRequestBytes = 128L << 20, MemoryLimitBytes = 128L << 20 });

        pod.Volumes.Should().Equal(
            new PodVolumeSpec { Name = "shared", EmptyDir = new EmptyDirVolumeSource { InMemory = true, SizeLimitBytes = 64L << 20 } },
            new PodVolumeSpec { Name = "config", HostPath = new HostPathVolumeSource { Path = "/etc/web", Type = "Directory" } },
            // A volume without a source is an emptyDir, as Kubernetes defaults it.
            new PodVolumeSpec { Name = "scratch", EmptyDir = new EmptyDirVolumeSource() });
    }

    [Fact]
    public void The_same_pod_in_json_loads_the_same()
    {
        const string json = """
            {
              "apiVersion": "v1",
              "kind": "Pod",
              "metadata": {"name": "web", "labels": {"app": "web"}},
              "spec": {
                "restartPolicy": "OnFailure",
                "containers": [
                  {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sleep", "10"],
                    "env": [{"name": "A", "value": "1"}],
                    "resources": {"requests": {"cpu": 0.5, "memory": "1Gi"}, "limits": {"cpu": 2}},
                    "ports": [{"containerPort": 80}],
                    "tty": false
                  }
                ],
                "volumes": [{"name": "v", "emptyDir": {}}]
              }
            }
            """;
        var pod = PodManifest.Parse(json);
        pod.Name.Should().Be("web");
        pod.RestartPolicy.Should().Be(PodRestartPolicy.OnFailure);
        pod.Containers[0].Command.Should().Equal("sleep", "10");
        pod.Containers[0].Env.Should().Equal(new PodEnvVar("A", "1"));
        pod.Containers[0].Resources.Should().Be(new PodResources { CpuRequestMilli = 500, CpuLimitMilli = 2000, MemoryRequestBytes = 1L << 30 });
        pod.Containers[0].Ports.Should().Equal(new PodContainerPort { ContainerPort = 80 });
        pod.Volumes.Should().Equal(new PodVolumeSpec { Name = "v", EmptyDir = new EmptyDirVolumeSource() });
    }

    [Fact]
    public void What_kubectl_run_dry_run_prints_loads()
    {
        // `kubectl run x --image=busybox --dry-run=client -o yaml`: nulls, empty mappings and ClusterFirst DNS.
        var pod = PodManifest.Parse("""
            apiVersion: v1
            kind: Pod
            metadata:
              creationTimestamp: null
              labels:
                run: x
              name: x
            spec:
              containers:
              - image: busybox
                name: x
                resources: {}
              dnsPolicy: ClusterFirst
              restartPolicy: Always
            status: {}
            """);
        pod.Name.Should().Be("x");
        pod.Containers.Single().Resources.Should().Be(new PodResources());
        pod.DnsConfig.Should().BeNull();
        pod.RestartPolicy.Should().Be(PodRestartPolicy.Always);
    }

    [Theory]
    [InlineData("livenessProbe:\n        exec: {command: [true]}", "spec.containers[0].livenessProbe", "not supported", 9)]
    [InlineData("imagePullPolicy: Always", "spec.containers[0].imagePullPolicy", "not supported", 9)]
    [InlineData("imagee: busybox", "spec.containers[0].imagee", "unknown field", 9)]
    [InlineData("envFrom: [{configMapRef: {name: c}}]", "spec.containers[0].envFrom", "not supported", 9)]
    [InlineData("securityContext: {allowPrivilegeEscalation: false}", "spec.containers[0].securityContext.allowPrivilegeEscalation", "not supported", 9)]
    [InlineData("securityContext: {privileged: true}", "spec.containers[0].securityContext.privileged", "true is refused", 9)]
    [InlineData("securityContext: {capabilities: {add: [NET_ADMN]}}", "spec.containers[0].securityContext.capabilities.add[0]", "not a Linux capability", 0)]
    [InlineData("env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}}}]", "spec.containers[0].env[0].valueFrom", "not supported", 9)]
    [InlineData("env: [{name: PORT, value: 8080}]", "spec.containers[0].env[0].value", "expected a string, found the number 8080", 9)]
    [InlineData("env: [{name: DEBUG, value: yes}]", "spec.containers[0].env[0].value", "expected a string, found the boolean yes", 9)]
    [InlineData("env: [{name: A=B, value: x}]", "spec.containers[0].env[0].name", "not an environment variable name", 0)]
    [InlineData("tty: \"true\"", "spec.containers[0].tty", "expected true or false", 9)]
    [InlineData("command: sleep", "spec.containers[0].command", "expected a list", 9)]
    [InlineData("resources: {limits: {memory: 1.5GB}}", "spec.containers[0].resources.limits.memory", "'1.5GB'", 9)]
    [InlineData("resources: {requests: {cpu: lots}}", "spec.containers[0].resources.requests.cpu", "'lots' is not a quantity", 9)]
    [InlineData("resources: {requests: {cpu: -1}}", "spec.containers[0].resources.requests.cpu", "greater than or equal to 0", 9)]
    [InlineData("resources: {requests: {cpu: true}}", "spec.containers[0].resources.requests.cpu", "expected a quantity", 9)]
    [InlineData("resources: {limits: {nvidia.com/gpu: 1}}", "spec.containers[0].resources.limits[nvidia.com/gpu]", "only cpu and memory", 9)]
    [InlineData("resources: {limits: {ephemeral-storage: 1Gi}}", "spec.containers[0].resources.limits[ephemeral-storage]", "only cpu and memory", 9)]
    [InlineData("resources: {claims: [{name: gpu}]}", "spec.containers[0].resources.claims", "not supported", 9)]
    [InlineData("resources: {requests: {cpu: 2}, limits: {cpu: 1}}", "spec.containers[0].resources.requests.cpu", "2000m must be less than or equal to the cpu limit of 1000m", 0)]
    [InlineData("resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}", "spec.containers[0].resources.requests.memory", "less than or equal to the memory limit", 0)]
    [InlineData("ports: [{containerPort: 70000}]", "spec.containers[0].ports[0].containerPort", "70000 is not between 1 and 65535", 9)]
    [InlineData("ports: [{containerPort: \"80\"}]", "spec.containers[0].ports[0].containerPort", "expected an integer", 9)]
    [InlineData("ports: [{containerPort: 80, hostPort: 80}]", "spec.containers[0].ports[0].hostPort", "not supported", 9)]
    [InlineData("ports: [{containerPort: 80, protocol: tcp}]", "spec.containers[0].ports[0].protocol", "not TCP, UDP or SCTP", 0)]
    [InlineData("volumeMounts: [{name: nope, mountPath: /x}]", "spec.containers[0].volumeMounts[0].name", "no volume named 'nope'", 0)]
    [InlineData("volumeMounts: [{name: v, mountPath: x}]", "spec.containers[0].volumeMounts[0].mountPath", "not an absolute path", 0)]
    [InlineData("volumeMounts: [{name: v, mountPath: /x, subPath: ../etc}]", "spec.containers[0].volumeMounts[0].subPath", "must not contain '..'", 0)]
    [InlineData("volumeMounts: [{name: v, mountPath: /x, mountPropagation: Bidirectional}]", "spec.containers[0].volumeMounts[0].mountPropagation", "not supported", 9)]
    [InlineData("workingDir: relative", "spec.containers[0].workingDir", "not an absolute path", 0)]
    [InlineData("securityContext: {runAsUser: -1}", "spec.containers[0].securityContext.runAsUser", "not between 0 and", 9)]
    public void A_bad_container_field_is_named(string field, string path, string problem, int line)
    {
        string manifest = $"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
                - name: c
                  image: busybox
                  {field}
              volumes: [{"{"}name: v{"}"}]
            """;
        var parse = () => PodManifest.Parse(manifest);
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Field.Should().Be(path);
        error.Problem.Should().Contain(problem);
        error.Message.Should().StartWith($"{path}: ");
        error.Line.Should().Be(line);
    }

    [Theory]
    [InlineData("apiVersion: apps/v1\nkind: Pod", "apiVersion", "'apps/v1' is not supported")]
    [InlineData("apiVersion: v1\nkind: Deployment", "kind", "'Deployment' is not supported")]
    [InlineData("kind: Pod", "apiVersion", "required")]
    [InlineData("apiVersion: v1", "kind", "required")]
    public void Only_a_v1_pod_is_taken(string header, string field, string problem)
    {
        var parse = () => PodManifest.Parse($"{header}\nmetadata: {{name: p}}\nspec: {{containers: [{{name: c, image: i}}]}}\n");
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Field.Should().Be(field);
        error.Problem.Should().Contain(problem);
    }

    [Theory]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], initContainers: [{name: i, image: i}]}", "spec.initContainers", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], hostNetwork: true}", "spec.hostNetwork", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], containerz: []}", "spec.containerz", "unknown field")]
    [InlineData("metadata: {name: p, generateName: p-}\nspec: {containers: [{name: c, image: i}]}", "metadata.generateName", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: []}", "spec.containers", "at least one container")]
    [InlineData("metadata: {name: p}\nspec: {}", "spec.containers", "required")]
    [InlineData("metadata: {name: P}\nspec: {containers: [{name: c, image: i}]}", "metadata.name", "not a DNS subdomain")]
    [InlineData("metadata: {}\nspec: {containers: [{name: c, image: i}]}", "metadata.name", "required")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c}]}", "spec.containers[0].image", "required")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}, {name: c, image: j}]}", "spec.containers[1].name", "used by another container")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: C_1, image: i}]}", "spec.containers[0].name", "not a DNS label")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], restartPolicy: Sometimes}", "spec.restartPolicy", "not Always, OnFailure or Never")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], hostname: Web}", "spec.hostname", "not a DNS label")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], dnsPolicy: None}", "spec.dnsConfig", "required with dnsPolicy None")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], dnsConfig: {nameservers: [dns.example]}}", "spec.dnsConfig.nameservers[0]", "not an IP address")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, nfs: {server: s, path: /}}]}", "spec.volumes[0].nfs", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}]}", "spec.volumes[0]", "more than one volume source")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, emptyDir: {medium: HugePages}}]}", "spec.volumes[0].emptyDir.medium", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, emptyDir: {sizeLimit: 0}}]}", "spec.volumes[0].emptyDir.sizeLimit", "greater than zero")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, hostPath: {path: /run/x.sock, type: Socket}}]}", "spec.volumes[0].hostPath.type", "not supported")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, hostPath: {path: data}}]}", "spec.volumes[0].hostPath.path", "not an absolute path")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v}, {name: v}]}", "spec.volumes[1].name", "used by another volume")]
    [InlineData("metadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\nstatus: {phase: Running}", "status", "remove it")]
    public void A_bad_pod_field_is_named(string body, string field, string problem)
    {
        var parse = () => PodManifest.Parse($"apiVersion: v1\nkind: Pod\n{body}\n");
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Field.Should().Be(field);
        error.Problem.Should().Contain(problem);
    }

    [Theory]
    [InlineData("", "the manifest is empty")]
    [InlineData("---\n", "the manifest is empty")]
    [InlineData("- a\n- b\n", "a manifest is a mapping")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p\n", "not valid YAML or JSON")]
    [InlineData("{\"apiVersion\": \"v1\", \"kind\": \"Pod\",}x", "not valid YAML or JSON")]
    public void A_document_that_is_no_pod_is_refused(string text, string problem)
    {
        var parse = () => PodManifest.Parse(text);
        parse.Should().Throw<PodManifestException>().Which.Problem.Should().Contain(problem);
    }

    [Fact]
    public void Two_documents_are_refused_at_the_second()
    {
        const string pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n";
        var parse = () => PodManifest.Parse(pod + "---\n" + pod);
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Problem.Should().Contain("2 documents");
        error.Line.Should().Be(6);
        // A leading separator and a trailing empty document are no second pod.
        PodManifest.Parse("---\n" + pod + "---\n").Name.Should().Be("p");
    }

    [Fact]
    public void A_field_given_twice_is_refused()
    {
        var parse = () => PodManifest.Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  hostname: a\n  hostname: b\n");
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Line.Should().BeGreaterThan(0);
        error.Message.Should().Contain("hostname");
    }

    [Fact]
    public void Block_volumes_and_a_start_gate_come_from_the_annotations()
    {
        string keyFile = Path.Combine(Path.GetTempPath(), $"pod-key-{Guid.NewGuid():N}");
        byte[] key = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        File.WriteAllBytes(keyFile, key);
        try
        {
            var pod = PodManifest.Parse($$$"""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: secure
                  annotations:
                    kataagent.io/block-volumes: |
                      {"data": {"path": "/var/lib/disks/data.img", "encryption": "key-file:{{{keyFile}}}"},
                       "scratch": {"path": "/dev/loop7", "fsType": "ext4", "encryption": "ephemeral"},
                       "plain": {"path": "/var/lib/disks/plain.img", "readOnly": true}}
                    kataagent.io/start-gate: '["/usr/bin/attest", "--url", "http://127.0.0.1:9000"]'
                    kataagent.io/start-gate-container: app
                    kataagent.io/start-gate-timeout: 1m30s
                    kataagent.io/start-gate-env: '["TOKEN=abc"]'
                spec:
                  containers:
                    - name: app
                      image: busybox
                      volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /scratch}, {name: plain, mountPath: /plain}]
                  volumes:
                    - name: data
                      emptyDir: {}
                    - name: scratch
                    - name: plain
                """);
            pod.Volumes.Should().HaveCount(3);
            pod.Volumes[0].Name.Should().Be("data");
            pod.Volumes[0].EmptyDir.Should().BeNull();
            pod.Volumes[0].Block!.Path.Should().Be("/var/lib/disks/data.img");
            pod.Volumes[0].Block!.FsType.Should().Be("ext4");
            pod.Volumes[0].Block!.Encryption!.Ephemeral.Should().BeFalse();
            pod.Volumes[0].Block!.Encryption!.Key!.Value.ToArray().Should().Equal(key);
            pod.Volumes[1].Block!.Encryption!.Ephemeral.Should().BeTrue();
            pod.Volumes[1].Block!.Encryption!.Key.Should().BeNull();
            pod.Volumes[2].Block.Should().Be(new BlockVolumeSource { Path = "/var/lib/disks/plain.img", ReadOnly = true });

            pod.StartGate.Should().NotBeNull();
            pod.StartGate!.Args.Should().Equal("/usr/bin/attest", "--url", "http://127.0.0.1:9000");
            pod.StartGate.Container.Should().Be("app");
            pod.StartGate.Timeout.Should().Be(TimeSpan.FromSeconds(90));
            pod.StartGate.Env.Should().Equal("TOKEN=abc");
            // The annotations reach the agent as they are.
            pod.Annotations.Should().ContainKey(PodManifest.StartGateAnnotation);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Theory]
    [InlineData("kataagent.io/block-volumes: '{\"other\": {\"path\": \"/x.img\"}}'", "metadata.annotations[kataagent.io/block-volumes].other", "no volume named 'other'")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"x.img\"}}'", "metadata.annotations[kataagent.io/block-volumes].v.path", "not an absolute path")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {}}'", "metadata.annotations[kataagent.io/block-volumes].v.path", "required")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"/x\", \"fsType\": \"btrfs\"}}'", "metadata.annotations[kataagent.io/block-volumes].v.fsType", "not supported")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"/x\", \"size\": 1}}'", "metadata.annotations[kataagent.io/block-volumes].v.size", "unknown field")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"/x\", \"encryption\": \"luks\"}}'", "metadata.annotations[kataagent.io/block-volumes].v.encryption", "not \"ephemeral\" or \"key-file:")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"/x\", \"encryption\": \"key-file:/nonexistent/key\"}}'", "metadata.annotations[kataagent.io/block-volumes].v.encryption", "cannot read the key file")]
    [InlineData("kataagent.io/block-volumes: '{\"v\": {\"path\": \"/x\", \"encryption\": \"ephemeral\", \"readOnly\": true}}'", "metadata.annotations[kataagent.io/block-volumes].v.readOnly", "ephemeral")]
    [InlineData("kataagent.io/block-volumes: '[\"v\"]'", "metadata.annotations[kataagent.io/block-volumes]", "expected a JSON object")]
    [InlineData("kataagent.io/block-volumes: 'v: /x'", "metadata.annotations[kataagent.io/block-volumes]", "not JSON")]
    [InlineData("kataagent.io/start-gate: /bin/attest", "metadata.annotations[kataagent.io/start-gate]", "not JSON")]
    [InlineData("kataagent.io/start-gate: '[]'", "metadata.annotations[kataagent.io/start-gate]", "non-empty list")]
    [InlineData("kataagent.io/start-gate: '[\"attest\"]'", "metadata.annotations[kataagent.io/start-gate][0]", "not an absolute path")]
    [InlineData("kataagent.io/start-gate: '[\"/bin/attest\", 1]'", "metadata.annotations[kataagent.io/start-gate][1]", "expected a string")]
    [InlineData("kataagent.io/start-gate-container: c", "metadata.annotations[kataagent.io/start-gate-container]", "without kataagent.io/start-gate")]
    [InlineData("kataagent.io/start-gate: '[\"/a\"]'\n    kataagent.io/start-gate-container: nope", "metadata.annotations[kataagent.io/start-gate-container]", "no container named 'nope'")]
    [InlineData("kataagent.io/start-gate: '[\"/a\"]'\n    kataagent.io/start-gate-timeout: soon", "metadata.annotations[kataagent.io/start-gate-timeout]", "not a positive duration")]
    [InlineData("kataagent.io/start-gate: '[\"/a\"]'\n    kataagent.io/start-gate-timeout: '0'", "metadata.annotations[kataagent.io/start-gate-timeout]", "not a positive duration")]
    [InlineData("kataagent.io/start-gate: '[\"/a\"]'\n    kataagent.io/start-gate-env: '[\"NOEQUALS\"]'", "metadata.annotations[kataagent.io/start-gate-env][0]", "not NAME=value")]
    [InlineData("kataagent.io/startgate: '[\"/a\"]'", "metadata.annotations[kataagent.io/startgate]", "unknown annotation")]
    public void A_bad_annotation_is_named(string annotation, string field, string problem)
    {
        var parse = () => PodManifest.Parse($"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              annotations:
                {annotation}
            spec:
              containers: [{"{"}name: c, image: i, volumeMounts: [{"{"}name: v, mountPath: /v{"}"}]{"}"}]
              volumes: [{"{"}name: v{"}"}]
            """);
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Field.Should().Be(field);
        error.Problem.Should().Contain(problem);
    }

    [Fact]
    public void A_block_volume_declared_as_something_else_is_refused()
    {
        var parse = () => PodManifest.Parse("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              annotations:
                kataagent.io/block-volumes: '{"v": {"path": "/x.img"}}'
            spec:
              containers: [{name: c, image: i}]
              volumes: [{name: v, hostPath: {path: /x}}]
            """);
        var error = parse.Should().Throw<PodManifestException>().Which;
        error.Field.Should().Be("spec.volumes[0].hostPath");
        error.Problem.Should().Contain("block volume");
    }

    [Fact]
    public void A_key_file_of_the_wrong_size_is_refused()
    {
        string keyFile = Path.Combine(Path.GetTempPath(), $"pod-key-{Guid.NewGuid():N}");
        File.WriteAllBytes(keyFile, new byte[16]);
        try
        {
            var parse = () => PodManifest.Parse($$$"""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p
                  annotations:
                    kataagent.io/block-volumes: '{"v": {"path": "/x.img", "encryption": "key-file:{{{keyFile}}}"}}'
                spec:
                  containers: [{name: c, image: i}]
                  volumes: [{name: v}]
                """);
            parse.Should().Throw<PodManifestException>().Which.Problem.Should().Contain("16 bytes");
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Fact]
    public async Task LoadAsync_names_the_file_and_line()
    {
        string file = Path.Combine(Path.GetTempPath(), $"pod-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: i\n      startupProbe: {}\n");
        try
        {
            var load = () => PodManifest.LoadAsync(file);
            var error = (await load.Should().ThrowAsync<PodManifestException>()).Which;
            error.File.Should().Be(file);
            error.Line.Should().Be(8);
            error.Message.Should().Be($"{file}:8: spec.containers[0].startupProbe: not supported");

            await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n");
            (await PodManifest.LoadAsync(file)).Name.Should().Be("p");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Validate_checks_a_spec_written_in_code()
    {
        var good = new PodSpec
        {
            Name = "p",
            Containers = [new PodContainerSpec { Name = "c", Rootfs = "/srv/rootfs" }],
        };
        good.Validate();

        var neither = good with { Containers = [new PodContainerSpec { Name = "c" }] };
        var check = () => neither.Validate();
        check.Should().Throw<PodManifestException>().Which.Field.Should().Be("spec.containers[0].image");

        var both = good with { Containers = [new PodContainerSpec { Name = "c", Image = "busybox", Rootfs = "/r" }] };
        check = () => both.Validate();
        check.Should().Throw<PodManifestException>().Which.Field.Should().Be("spec.containers[0].image");

        var shortKey = good with
        {
            Volumes = [new PodVolumeSpec { Name = "d", Block = new BlockVolumeSource { Path = "/d.img", Encryption = new BlockVolumeEncryption { Key = new byte[20] } } }],
        };
        check = () => shortKey.Validate();
        check.Should().Throw<PodManifestException>().Which.Problem.Should().Contain("20 bytes");

        var gate = good with { StartGate = new PodStartGate { Args = ["/bin/true"], Container = "other" } };
        check = () => gate.Validate();
        check.Should().Throw<PodManifestException>().Which.Field.Should().Be("metadata.annotations[kataagent.io/start-gate-container]");

        var noSource = good with { Volumes = [new PodVolumeSpec { Name = "v" }] };
        check = () => noSource.Validate();
        check.Should().Throw<PodManifestException>().Which.Field.Should().Be("spec.volumes[0]");
    }
}
