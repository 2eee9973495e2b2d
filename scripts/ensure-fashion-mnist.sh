#!/usr/bin/env bash
# Make Fashion-MNIST available from Debian's dataset-fashion-mnist package when it is missing.
# Never fails the build: without apt or root it says how to get the data and carries on, because
# everything but the real-data commands works without it.
set -u
dir="${VISIONMLP_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
if ls "$dir"/train-images-idx3-ubyte* >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "visionmlp: Fashion-MNIST not found in $dir and apt-get is not available;" \
         "install the dataset-fashion-mnist package or set VISIONMLP_FASHION_MNIST to a folder with the IDX files."
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    sudo_cmd="sudo"
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || {
        echo "visionmlp: Fashion-MNIST not found in $dir; run 'sudo apt-get install dataset-fashion-mnist'" \
             "or set VISIONMLP_FASHION_MNIST to a folder with the IDX files."
        exit 0
    }
else
    sudo_cmd=""
fi
echo "visionmlp: installing Fashion-MNIST (apt-get install dataset-fashion-mnist) ..."
if $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
    echo "visionmlp: Fashion-MNIST installed in $dir"
else
    echo "visionmlp: apt-get could not install dataset-fashion-mnist; the real-data commands will say so when run."
fi
exit 0
