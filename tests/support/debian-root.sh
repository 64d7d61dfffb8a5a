# shellcheck shell=bash
# debian-root.sh: a throwaway Debian 12 root for the tests that need a fresh machine
# (tests/setup/run, tests/deb/run). Sourced, not run; needs root and debootstrap.
#
#   debian_root_create NAME   a new root in $dir (/var/tmp/authflow-NAME.XXXXXX) from the cached
#                             debootstrapped base, with /proc, /dev and apt's package cache mounted;
#                             on exit everything running in it is stopped, unmounted and deleted
#   debian_root_updates       add bookworm-updates and bookworm-security to the root's apt sources,
#                             as on an installed Debian 12, and update
#   in_root CMD...            CMD in the root, as root
#   in_dir_processes          the processes running in the root
#   check DESCRIPTION TEST... run TEST; print ok or FAIL and count failures in $failures
#
# The debootstrapped base and the downloaded packages are kept in $AUTHFLOW_SETUP_CACHE (default
# /var/cache/authflow-setup-test), so only the first run downloads.

cache=${AUTHFLOW_SETUP_CACHE:-/var/cache/authflow-setup-test}
failures=0 dir="" mounts=()

# The mirror this machine's apt uses for SUITE (bookworm, bookworm-security), default DEFAULT.
mirror() {
  local suite=${1:-bookworm} default=${2:-http://deb.debian.org/debian} uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == s) { for (j = 2; j < i; j++) if ($j ~ /^https?:/) { print $j; exit } } }')
  if [ -z "$uri" ]; then
    uri=$(awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
               { found = 0; u = ""
                 for (i = 1; i <= NF; i++) {
                   if ($i ~ /^Suites:/) { n = split($i, w, " "); for (k = 2; k <= n; k++) if (w[k] == s) found = 1 }
                   if ($i ~ /^URIs:/) { split($i, w, " "); u = w[2] } }
                 if (found && u != "") { print u; exit } }' \
              /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  fi
  echo "${uri:-$default}"
}

debian_root_base() {
  base="$cache/bookworm-minbase.tar"
  mkdir -p "$cache/archives/partial"
  if [ ! -f "$base" ]; then
    echo "debian-root: debootstrap bookworm from $(mirror) (once; cached in $cache)"
    rm -rf "$cache/base.tmp"
    debootstrap --variant=minbase --include=sudo bookworm "$cache/base.tmp" "$(mirror)" >"$cache/debootstrap.log" 2>&1 ||
      { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    # No service starts inside the throwaway root.
    printf '#!/bin/sh\nexit 101\n' >"$cache/base.tmp/usr/sbin/policy-rc.d"
    chmod 755 "$cache/base.tmp/usr/sbin/policy-rc.d"
    chroot "$cache/base.tmp" apt-get update -qq
    tar -C "$cache/base.tmp" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    rm -rf "$cache/base.tmp"
  fi
}

in_dir_processes() {
  local p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/root" 2>/dev/null)" in "$dir" | "$dir "*) echo "${p#/proc/}" ;; esac
  done
}

debian_root_cleanup() {
  local i pids
  [ -n "$dir" ] || return 0
  pids=$(in_dir_processes)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true; sleep 1
    pids=$(in_dir_processes); [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  # Nothing may still be mounted below the root before it is deleted.
  if ! grep -q " $dir/" /proc/self/mounts; then rm -rf "$dir"; else echo "debian-root: left $dir (still mounted)" >&2; fi
}

mount_in() { mount "$@"; mounts+=("${!#}"); }

debian_root_create() {
  debian_root_base
  dir=$(mktemp -d "/var/tmp/authflow-$1.XXXXXX")
  trap debian_root_cleanup EXIT
  tar -C "$dir" -xf "$base"
  mount_in -t proc proc "$dir/proc"
  mount_in --bind /dev "$dir/dev"
  mount_in --bind /dev/pts "$dir/dev/pts"
  mount_in --bind "$cache/archives" "$dir/var/cache/apt/archives"
}

in_root() { chroot "$dir" "$@"; }

debian_root_updates() {
  {
    echo "deb $(mirror bookworm-updates "$(mirror)") bookworm-updates main"
    echo "deb $(mirror bookworm-security http://deb.debian.org/debian-security) bookworm-security main"
  } >"$dir/etc/apt/sources.list.d/updates.list"
  in_root apt-get update -qq
}

check() {
  local what=$1; shift
  if "$@"; then echo "  ok    $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}
