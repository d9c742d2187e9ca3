"""Static files storage of production: WhiteNoise's hashed names and pre-compressed copies,
with Brotli at a quality that keeps ``collectstatic`` quick.

WhiteNoise compresses at Brotli's highest quality (11). For the portal's ~36 MB of static
files (the API docs' bundles and source maps, the Korean fonts) that alone took ~90 s of CPU
per ``collectstatic`` (each image build and each deployment's migrate step); quality 6 took
~3 s for files ~12% larger, still smaller than gzip's.
"""

import brotli
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

BROTLI_QUALITY = 6


class _QuickBrotliCompressor(Compressor):
    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        return brotli.compress(data, quality=BROTLI_QUALITY)


class PortalStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def create_compressor(self, **kwargs):
        return _QuickBrotliCompressor(**kwargs)
