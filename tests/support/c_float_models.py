"""Single-precision models of nanoBragg's output arithmetic, written from the spec (not from either engine's code).

- `int_image_model` (spec 9.3, corrected): v = float*scale + adc in double, clamped to [0, 65535], then
  `floorf(v + 0.5)`: the double v + 0.5 is rounded to float32 before the floor.
- `PoissonStream` (spec 9.4, corrected, and the `ran1` of spec 4.7): `poidev` with float arguments, statics and
  locals, `gammln` taking and returning float around a double body, `gaussdev` polar Box-Muller with one spare
  deviate. Float arithmetic is emulated with numpy.float32 (each operation rounded to single precision, no fused
  multiply-add); the libm calls (exp, log, tan, sqrt, floor) are Python's, i.e. the same double functions.
- `noise_image_model`: the noise loop (raster order over the ROI, ADC added, > 65535 clamped and counted, truncated).

Pure Python, one pixel at a time: meant for test images of a few thousand pixels.
"""
from __future__ import annotations

import math

import numpy as np

F32 = np.float32

# ran1 (Park-Miller minimal standard with a Bays-Durham shuffle of 32), spec 4.7
IA, IM, IQ, IR, NTAB = 16807, 2147483647, 127773, 2836, 32
NDIV = 1 + (IM - 1) // NTAB
RNMX = 1.0 - 1.2e-7
LANCZOS = (76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2,
           -0.5395239384953e-5)


def int_image_model(image: np.ndarray, scale: float, adc: float) -> np.ndarray:
    """uint16 image of spec 9.3 with the float32 rounding before the floor (whole detector = ROI)."""
    v = image.astype(np.float32).astype(np.float64) * scale + adc
    v = np.clip(v, 0.0, 65535.0)
    return np.floor((v + 0.5).astype(np.float32)).astype(np.uint16)


def int_image_double_model(image: np.ndarray, scale: float, adc: float) -> np.ndarray:
    """The same, rounded in double (what both engines did before): differs by 1 ADU on rounding edges."""
    v = np.clip(image.astype(np.float32).astype(np.float64) * scale + adc, 0.0, 65535.0)
    return np.floor(v + 0.5).astype(np.uint16)


class PoissonStream:
    """nanoBragg's noise deviates for one seed (`-seed N` is stored as -N)."""

    def __init__(self, seed: int, *, single_gammln: bool = True):
        self.idum = int(seed)
        self.iy = 0
        self.iv = [0] * NTAB
        self.single_gammln = single_gammln   # False: the double-precision gammln (the old, diverging stream)
        self.oldm = F32(-1.0)
        self.sq = self.alxm = self.g = F32(0.0)
        self.spare: F32 | None = None

    def _step(self) -> None:
        k = self.idum // IQ if self.idum >= 0 else -((-self.idum) // IQ)  # C division truncates toward zero
        self.idum = IA * (self.idum - k * IQ) - IR * k
        if self.idum < 0:
            self.idum += IM

    def ran1(self) -> F32:
        if self.idum <= 0 or self.iy == 0:
            self.idum = 1 if -self.idum < 1 else -self.idum
            for j in range(NTAB + 7, -1, -1):
                self._step()
                if j < NTAB:
                    self.iv[j] = self.idum
            self.iy = self.iv[0]
        self._step()
        j = self.iy // NDIV
        self.iy = self.iv[j]
        self.iv[j] = self.idum
        temp = F32((1.0 / IM) * self.iy)
        return F32(RNMX) if float(temp) > RNMX else temp

    def gammln(self, xx):
        x = float(xx)
        y = x
        tmp = x + 5.5
        tmp -= (x + 0.5) * math.log(tmp)
        ser = 1.000000000190015
        for c in LANCZOS:
            y += 1.0
            ser += c / y
        r = -tmp + math.log(2.5066282746310005 * ser / x)
        return F32(r) if self.single_gammln else np.float64(r)

    def gaussdev(self) -> F32:
        if self.spare is not None:
            out, self.spare = self.spare, None
            return out
        while True:
            v1 = F32(2.0 * float(self.ran1()) - 1.0)
            v2 = F32(2.0 * float(self.ran1()) - 1.0)
            rsq = v1 * v1 + v2 * v2
            if not (rsq >= 1.0 or rsq == 0.0):
                break
        fac = F32(math.sqrt(-2.0 * math.log(float(rsq)) / float(rsq)))
        self.spare = v1 * fac
        return v2 * fac

    def poidev(self, xm: F32) -> F32:
        xm = F32(xm)
        if xm > 1.0e6:
            return F32(float(xm) + math.sqrt(float(xm)) * float(self.gaussdev()))
        if xm < 12.0:
            if xm != self.oldm:
                self.oldm = xm
                self.g = F32(math.exp(-float(xm)))
            em, t = F32(-1.0), F32(1.0)
            while True:
                em = em + F32(1.0)
                t = t * self.ran1()
                if not t > self.g:
                    return em
        if xm != self.oldm:
            self.oldm = xm
            self.sq = F32(math.sqrt(2.0 * float(xm)))
            self.alxm = F32(math.log(float(xm)))
            self.g = F32(xm * self.alxm - self.gammln(F32(float(xm) + 1.0)))
        while True:
            while True:
                y = F32(math.tan(math.pi * float(self.ran1())))
                em = self.sq * y + xm
                if not em < 0.0:
                    break
            em = F32(math.floor(float(em)))
            arg = em * self.alxm - self.gammln(F32(float(em) + 1.0)) - self.g
            t = F32(0.9 * (1.0 + float(y * y)) * math.exp(float(arg)))
            if not self.ran1() > t:
                return em


def noise_image_model(image: np.ndarray, seed: int, adc: float, *, single_gammln: bool = True
                      ) -> tuple[np.ndarray, float, int]:
    """(uint16 noise image, photons, overloads) for the whole detector, seed as stored by the C (-N)."""
    stream = PoissonStream(seed, single_gammln=single_gammln)
    out = np.zeros(image.shape, dtype=np.uint16)
    flat = image.astype(np.float32).ravel()
    photons, overloads = 0.0, 0
    for idx, xm in enumerate(flat):
        test = float(stream.poidev(xm))
        photons += test
        test += adc
        if test > 65535.0:
            test = 65535.0
            overloads += 1
        out.flat[idx] = int(test)
    return out, photons, overloads
