# tools/lib/setup.sh - machine set-up shared by tools/run and tools/test.
#
# Sourced, never run.  Owns: the lists of Debian packages the project needs,
# installing the missing ones with apt, and configuring a meson build
# directory.  Does not build or test anything; does not change the caller's
# shell options (the callers choose set -e or not).
#
# Expected workload: a fresh Debian 12 machine as root, where everything is
# missing once; after that every call is a handful of dpkg-query look-ups and
# apt is not touched at all.

# What building needs.  liburing, jemalloc and xxHash are found by meson
# through pkg-config; core/ needs none of them.  libcurl is smtpsink-spool's
# HTTP client for --remote nodes (tools/spool/remote.c).
# shellcheck disable=SC2034  # used by the scripts that source this file
SETUP_BUILD_PACKAGES=(meson ninja-build pkg-config gcc liburing-dev libjemalloc-dev libxxhash-dev libgmime-3.0-dev libsqlite3-dev libmicrohttpd-dev libjansson-dev nettle-dev libssl-dev
	libcurl4-openssl-dev)

# What testing needs on top: clang and its runtimes for the libFuzzer and
# sanitizer builds, clang-format for the format check, pytest for the
# interop suite, real SMTP clients to talk to the server, postfix for
# smtp-source/smtp-sink (reference load tools), haproxy to test
# --proxy-protocol behind a real load balancer, python3-xxhash for the
# interop suite's independent spool reader (tests/interop/spoolfmt.py
# checks XXH3-64 checksums), and FUSE 3 for the hostile suite's
# fault-injecting filesystem (tests/hostile/faultfs.c: libfuse3-dev brings
# the library and meson's pkg-config name fuse3, fuse3 the kernel module's
# user side, /dev/fuse rules and fusermount3), and chromium for the web
# page's test in a real browser (tests/interop/test_web_page.py, headless),
# and prometheus (with promtool) to scrape /metrics
# (tests/interop/test_metrics.py), man-db (with groff-base) to render
# the man pages with warnings on (tests/interop/test_man.py), and lintian
# for the package test (tests/interop/test_package.py: tools/package fails
# on its warnings).
# shellcheck disable=SC2034
SETUP_TEST_PACKAGES=(clang clang-format libclang-rt-14-dev python3-pytest swaks msmtp curl openssl postfix haproxy
	python3-xxhash fuse3 libfuse3-dev chromium prometheus man-db lintian)

# setup_missing_packages PKG... - print each PKG that is not installed, one a
# line.  A package removed with its conffiles left ("deinstall ok
# config-files") counts as missing.
setup_missing_packages()
{
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		if [[ $status != "install ok installed" ]]; then
			printf '%s\n' "$pkg"
		fi
	done
}

# setup_install_packages PKG... - install whichever of PKG are missing, all in
# one apt-get call.  Runs apt-get update only when something is missing, so a
# set-up machine never touches the network.  Returns non-zero on failure.
setup_install_packages()
{
	local -a missing
	mapfile -t missing < <(setup_missing_packages "$@")
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	if ((EUID != 0)); then
		echo "setup: missing packages: ${missing[*]}" >&2
		echo "setup: run this as root, or install them with apt-get" >&2
		return 1
	fi
	echo "setup: installing ${missing[*]}"
	local pkg
	for pkg in "${missing[@]}"; do
		if [[ $pkg == postfix ]]; then
			# We only want postfix's smtp-source and smtp-sink, not a
			# mail server: "No configuration" writes no main.cf, so
			# nothing prompts and its init script starts nothing.
			echo "postfix postfix/main_mailer_type select No configuration" |
				debconf-set-selections || return 1
		fi
	done
	DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null || return 1
}

# setup_meson_configured DIR - true when DIR is a configured meson build dir.
setup_meson_configured()
{
	[[ -f $1/meson-private/coredata.dat ]]
}

# setup_meson DIR ARG... - configure DIR with ARGs; when DIR is already
# configured, reconfigure it so the ARGs apply to it too (meson keeps the
# options that ARGs do not mention).
setup_meson()
{
	local dir=$1
	shift
	if setup_meson_configured "$dir"; then
		meson setup --reconfigure "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# setup_mailpit_client_dir - print the cache directory of the npm Mailpit
# client that tests/interop/test_http_api.py drives (MAILPIT_CLIENT_CACHE,
# else ${XDG_CACHE_HOME:-~/.cache}/smtpsink/mailpit_client).
setup_mailpit_client_dir()
{
	printf '%s\n' "${MAILPIT_CLIENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smtpsink/mailpit_client}"
}

# setup_mailpit_client ROOT - install tests/interop/mailpit_client's npm
# dependencies (the mailpit-api package, pinned there) into the cache
# directory unless the same package.json is installed there already; node
# and npm come from Debian when missing.  Prints the node_modules path.
setup_mailpit_client()
{
	local src=$1/tests/interop/mailpit_client/package.json dir
	dir=$(setup_mailpit_client_dir)
	if ! command -v node >/dev/null; then
		setup_install_packages nodejs >&2 || return 1
	fi
	if ! command -v npm >/dev/null; then
		setup_install_packages npm >&2 || return 1
	fi
	if ! cmp -s "$src" "$dir/package.json" || [[ ! -f $dir/node_modules/mailpit-api/package.json ]]; then
		mkdir -p "$dir" && rm -rf "$dir/node_modules" && cp "$src" "$dir/package.json" || return 1
		echo "setup: npm install into $dir" >&2
		(cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2) || {
			rm -f "$dir/package.json" # not installed: try again next time
			return 1
		}
	fi
	printf '%s\n' "$dir/node_modules"
}
