"""Readers and writers for the files of other meteor software: the Global Meteor Network's RMS station data.

:mod:`meteorfast.formats.ff` reads FF files (256 frames packed into four uint8 planes; needs the ``gmn`` extra,
astropy); :mod:`meteorfast.formats.ftpdetectinfo` reads and writes the ``FTPdetectinfo_*.txt`` detection lists
(no extra needed). Import them from their modules: this package imports neither, so nothing here needs astropy.
"""

from __future__ import annotations
