#!/bin/sh
# Builds a minimal rootfs tarball from Debian's busybox-static (/bin/busybox):
#   bin/busybox, a symlink in bin/ for every applet, etc/passwd, etc/group, and empty
#   proc sys dev tmp (1777) etc root var/www, all owned by root. No network use.
# Usage: scripts/busybox-image.sh OUT.tar   (import with `berth load -i OUT.tar busybox`)
set -eu

usage() {
    echo "usage: $0 OUT.tar" >&2
    exit 2
}

[ "$#" -eq 1 ] || usage
out=$1
busybox=${BUSYBOX:-/bin/busybox}

if [ ! -x "$busybox" ]; then
    echo "error: $busybox not found or not executable; install Debian's busybox-static" \
        "(apt-get install busybox-static) or set BUSYBOX=/path/to/static/busybox" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/busybox-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/rootfs

mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
    "$root/root" "$root/var/www"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"

# One symlink per applet, all in /bin (the default PATH covers it).
"$busybox" --list | while IFS= read -r applet; do
    case $applet in
    "" | busybox | */*) continue ;;
    esac
    ln -sf busybox "$root/bin/$applet"
done
[ -e "$root/bin/sh" ] || {
    echo "error: $busybox --list has no 'sh' applet; is it really busybox?" >&2
    exit 1
}

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
chmod 644 "$root/etc/passwd" "$root/etc/group"

# Write to a temp name next to OUT and rename, so a failure never leaves a partial tarball.
tmp_out="$out.tmp.$$"
tar --create --file "$tmp_out" --directory "$root" --numeric-owner --owner=0 --group=0 \
    --sort=name --mtime=@0 .
mv -f "$tmp_out" "$out"
echo "wrote $out ($("$busybox" --list | wc -l) applets)"
