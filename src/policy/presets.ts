// Paths that common images write at run time, so that turning on a read-only root does not break them: the
// seed's lesson is that nginx fails to start unless /var/cache/nginx and /var/run get emptyDirs. Each entry
// says where its paths come from. Images are matched by repository path, whatever registry serves them, so a
// mirror of an official image (`mirror.example/library/nginx`) is recognised too. Pure data and lookups.
import { parseImageReference } from './image.js';

export interface ImagePreset {
  /** What the image is, for messages: `official nginx`. */
  name: string;
  /** Repository paths (registry left out), e.g. `library/nginx`. */
  repositories: readonly string[];
  /** Absolute paths the image writes; each becomes an emptyDir when its root is made read-only. */
  writablePaths: readonly string[];
  /** Where the paths come from. */
  source: string;
}

const JVM_TMP_SOURCE =
  'The JDK defaults java.io.tmpdir to /tmp on Linux and keeps its hsperfdata there (java.lang.System, ' +
  '"java.io.tmpdir"; HotSpot -XX:+UsePerfData); libraries such as Netty and JNA unpack native code into it.';

export const IMAGE_PRESETS: readonly ImagePreset[] = [
  {
    name: 'official nginx',
    repositories: ['library/nginx'],
    writablePaths: ['/var/cache/nginx', '/var/run'],
    source:
      'nginxinc/docker-nginx Dockerfile (mainline/debian, mainline/alpine): nginx is configured with ' +
      '--http-client-body-temp-path=/var/cache/nginx/client_temp (and proxy, fastcgi, uwsgi, scgi temp paths ' +
      'under /var/cache/nginx) and --pid-path=/var/run/nginx.pid.',
  },
  {
    name: 'nginx-unprivileged',
    repositories: ['nginxinc/nginx-unprivileged'],
    writablePaths: ['/tmp'],
    source:
      'nginxinc/docker-nginx-unprivileged Dockerfile: moves the pid file to /tmp/nginx.pid and sets ' +
      'client_body_temp_path, proxy_temp_path, fastcgi_temp_path, uwsgi_temp_path and scgi_temp_path to /tmp/*.',
  },
  {
    name: 'official postgres',
    repositories: ['library/postgres'],
    writablePaths: ['/var/lib/postgresql', '/var/run/postgresql', '/tmp'],
    source:
      'docker-library/postgres Dockerfile: VOLUME /var/lib/postgresql (PGDATA lies below it: ' +
      '/var/lib/postgresql/data up to 17, /var/lib/postgresql/18/docker from 18) and mkdir /var/run/postgresql ' +
      'for the socket and its lock file; initdb and the entrypoint use /tmp.',
  },
  {
    name: 'official redis',
    repositories: ['library/redis'],
    writablePaths: ['/data'],
    source: 'docker-library/redis Dockerfile: VOLUME /data and WORKDIR /data (RDB and AOF files are written there).',
  },
  {
    name: 'official mariadb',
    repositories: ['library/mariadb'],
    writablePaths: ['/var/lib/mysql', '/run/mysqld', '/tmp'],
    source:
      'docker-library/mariadb Dockerfile: VOLUME /var/lib/mysql and mkdir /run/mysqld (socket and pid file); ' +
      'the server\'s tmpdir defaults to /tmp.',
  },
  {
    name: 'JVM (eclipse-temurin, openjdk, amazoncorretto, ibm-semeru-runtimes, sapmachine)',
    repositories: ['library/eclipse-temurin', 'library/openjdk', 'library/amazoncorretto', 'library/ibm-semeru-runtimes', 'library/sapmachine'],
    writablePaths: ['/tmp'],
    source: JVM_TMP_SOURCE,
  },
  {
    name: 'official python',
    repositories: ['library/python'],
    writablePaths: ['/tmp'],
    source:
      'Python docs, tempfile.gettempdir(): TMPDIR, TEMP, TMP, then /tmp, /var/tmp, /usr/tmp and finally the ' +
      'working directory, the first one writable; tempfile, multiprocessing and pip use it.',
  },
];

const BY_REPOSITORY = new Map(IMAGE_PRESETS.flatMap((preset) => preset.repositories.map((repository) => [repository, preset] as const)));

/** The preset for a container image, if it is a known one. */
export function presetForImage(image: string | undefined): ImagePreset | undefined {
  if (image === undefined || image === '') return undefined;
  return BY_REPOSITORY.get(parseImageReference(image).path);
}
