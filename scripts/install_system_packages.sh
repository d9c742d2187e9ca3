#!/usr/bin/env bash
# Installs the Debian packages the portal needs, only those missing.
#   run:  WeasyPrint's HarfBuzz subsetter (PDFs), gettext (translations)
#   test: the above, plus Chromium (browser tests), poppler-utils (pdftotext/pdftoppm),
#         Korean system fonts for screenshots, and for the deployment tests nginx (the
#         front proxy's template), openssl (a test certificate), wget (the proxy's
#         healthcheck) and docker-compose (checks docker-compose.yml; needs no engine).
set -euo pipefail
mode=${1:-run}
packages=(libharfbuzz-subset0 gettext)
if [ "$mode" = "test" ]; then
  packages+=(chromium poppler-utils fonts-nanum nginx openssl wget docker-compose)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]} (install them with your package manager)." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
