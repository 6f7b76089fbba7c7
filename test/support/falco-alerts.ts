// Falco alerts exactly as Falco 0.39+ posts them with `json_output: true` (http_output), for the stable rules
// this project demonstrates; Falcosidekick's webhook sends the same object plus `uuid`. Field names, priority
// spellings and the output line follow Falco's default rules file (falco_rules.yaml); tests substitute the pod.

export interface AlertTarget {
  namespace: string;
  pod: string;
  /** k8s.pod.uid; left out unless given (Falco prints it only when a rule's output asks for it). */
  uid?: string;
  container: string;
  image?: string;
  /** Defaults to now. */
  time?: Date;
  hostname?: string;
}

export type FalcoRuleName = 'Terminal shell in container' | 'Read sensitive file untrusted' | 'Drop and execute new binary in container' | 'Contact K8S API Server From Container';

/** Falco's text output prefix (default time format): `10:20:05.408091526: Notice `. */
function prefix(time: Date, priority: string): string {
  return `${time.toISOString().slice(11, 23)}091526: ${priority} `;
}

function common(t: AlertTarget): Record<string, unknown> {
  const [repository, tag] = (t.image ?? 'docker.io/library/nginx:1.27').split(/:(?=[^/]+$)/);
  const fields: Record<string, unknown> = {
    'container.id': '5f5a8c4b0c3e', 'container.image.repository': repository, 'container.image.tag': tag ?? 'latest',
    'container.name': t.container, 'k8s.ns.name': t.namespace, 'k8s.pod.name': t.pod,
  };
  if (t.uid) fields['k8s.pod.uid'] = t.uid;
  return fields;
}

function tail(t: AlertTarget): string {
  return ` container_id=5f5a8c4b0c3e container_name=${t.container} container_image_repository=${String(common(t)['container.image.repository'])} k8s_pod_name=${t.pod} k8s_ns_name=${t.namespace}`;
}

/** One alert as http_output posts it. */
export function falcoAlert(rule: FalcoRuleName, t: AlertTarget): Record<string, unknown> {
  const time = t.time ?? new Date();
  const nanos = `${time.toISOString().slice(0, -1)}091526Z`; // Falco writes nanoseconds
  const evtTime = time.getTime() * 1_000_000 + 91_526;
  const base = { hostname: t.hostname ?? 'node-1', source: 'syscall', time: nanos };
  switch (rule) {
    case 'Terminal shell in container':
      return {
        ...base, rule, priority: 'Notice',
        output: `${prefix(time, 'Notice')}A shell was spawned in a container with an attached terminal | evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh proc_exepath=/bin/sh parent=containerd-shim command=sh -c clear; (bash || ash || sh) terminal=34816 exe_flags=EXE_WRITABLE|EXE_LOWER_LAYER${tail(t)}`,
        output_fields: {
          ...common(t), 'evt.arg.flags': 'EXE_WRITABLE|EXE_LOWER_LAYER', 'evt.time': evtTime, 'evt.type': 'execve',
          'proc.cmdline': 'sh -c clear; (bash || ash || sh)', 'proc.exepath': '/bin/sh', 'proc.name': 'sh', 'proc.pname': 'containerd-shim',
          'proc.tty': 34816, 'user.loginuid': -1, 'user.name': 'root', 'user.uid': 0,
        },
        tags: ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell'],
      };
    case 'Read sensitive file untrusted':
      return {
        ...base, rule, priority: 'Warning',
        output: `${prefix(time, 'Warning')}Sensitive file opened for reading by non-trusted program | file=/etc/shadow gparent=containerd-shim ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=sh command=cat /etc/shadow terminal=34816${tail(t)}`,
        output_fields: {
          ...common(t), 'evt.time': evtTime, 'evt.type': 'openat', 'fd.name': '/etc/shadow', 'proc.aname[2]': 'containerd-shim',
          'proc.aname[3]': null, 'proc.aname[4]': null, 'proc.cmdline': 'cat /etc/shadow', 'proc.exepath': '/usr/bin/cat',
          'proc.name': 'cat', 'proc.pname': 'sh', 'proc.tty': 34816, 'user.loginuid': -1, 'user.name': 'root', 'user.uid': 0,
        },
        tags: ['T1555', 'container', 'filesystem', 'host', 'maturity_stable', 'mitre_credential_access'],
      };
    case 'Drop and execute new binary in container':
      return {
        ...base, rule, priority: 'Critical',
        output: `${prefix(time, 'Critical')}Executing binary not part of base image | proc_exe=/tmp/xmrig proc_sname=sh gparent=containerd-shim proc_exe_ino_ctime=${evtTime} proc_exe_ino_mtime=${evtTime} proc_exe_ino_ctime_duration_proc_start=1200 proc_cwd=/tmp/ container_start_ts=${evtTime} evt_type=execve user=root user_uid=0 user_loginuid=-1 process=xmrig proc_exepath=/tmp/xmrig parent=sh command=xmrig --donate-level 1 terminal=0 exe_flags=EXE_WRITABLE|EXE_UPPER_LAYER${tail(t)}`,
        output_fields: {
          ...common(t), 'container.start_ts': evtTime, 'evt.arg.flags': 'EXE_WRITABLE|EXE_UPPER_LAYER', 'evt.time': evtTime, 'evt.type': 'execve',
          'proc.aname[2]': 'containerd-shim', 'proc.cmdline': 'xmrig --donate-level 1', 'proc.cwd': '/tmp/', 'proc.exe': '/tmp/xmrig',
          'proc.exe_ino.ctime': evtTime, 'proc.exe_ino.ctime_duration_proc_start': 1200, 'proc.exe_ino.mtime': evtTime,
          'proc.exepath': '/tmp/xmrig', 'proc.name': 'xmrig', 'proc.pname': 'sh', 'proc.sname': 'sh', 'proc.tty': 0,
          'user.loginuid': -1, 'user.name': 'root', 'user.uid': 0,
        },
        tags: ['T1059', 'TA0002', 'container', 'maturity_stable', 'mitre_execution', 'process'],
      };
    case 'Contact K8S API Server From Container':
      return {
        ...base, rule, priority: 'Notice',
        output: `${prefix(time, 'Notice')}Unexpected connection to K8s API Server from container | connection=10.1.0.5:41234->10.0.0.1:443 lport=443 rport=41234 fd_type=ipv4 fd_proto=tcp evt_type=connect user=root user_uid=0 user_loginuid=-1 process=curl proc_exepath=/usr/bin/curl parent=sh command=curl https://kubernetes.default terminal=0${tail(t)}`,
        output_fields: {
          ...common(t), 'evt.time': evtTime, 'evt.type': 'connect', 'fd.name': '10.1.0.5:41234->10.0.0.1:443', 'fd.type': 'ipv4',
          'proc.cmdline': 'curl https://kubernetes.default', 'proc.name': 'curl', 'user.name': 'root', 'user.uid': 0,
        },
        tags: ['T1565', 'container', 'maturity_stable', 'mitre_discovery', 'network'],
      };
  }
}

/** The same alert as Falcosidekick's webhook output posts it. */
export function falcosidekickAlert(rule: FalcoRuleName, t: AlertTarget, uuid: string): Record<string, unknown> {
  return { uuid, ...falcoAlert(rule, t) };
}

/** An alert about a host process: Falco cannot resolve the Kubernetes fields. */
export function hostAlert(time = new Date()): Record<string, unknown> {
  return {
    hostname: 'node-1', source: 'syscall', time: time.toISOString(), rule: 'Read sensitive file untrusted', priority: 'Warning',
    output: `${prefix(time, 'Warning')}Sensitive file opened for reading by non-trusted program | file=/etc/shadow process=cat container_id=host container_name=host`,
    output_fields: { 'container.id': 'host', 'container.name': 'host', 'k8s.ns.name': null, 'k8s.pod.name': null, 'fd.name': '/etc/shadow', 'proc.name': 'cat' },
    tags: ['container', 'filesystem', 'host'],
  };
}
