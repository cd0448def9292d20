/* Image header checks, CRC-32 and SHA-256 (FIPS 180-4) for the management unit's images. */
#include "ms_image.h"

uint32_t ms_crc32(uint32_t crc, const void *buf, uint32_t len)
{
    /* Nibble table: 64 bytes of constants, fast enough for boot-time checks. */
    static const uint32_t t[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ t[crc & 15u];
        crc = (crc >> 4) ^ t[crc & 15u];
    }
    return ~crc;
}

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

static inline uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void sha256_block(uint32_t st[8], const uint8_t *b)
{
    uint32_t w[64];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (unsigned i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], bb = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
             h = st[7];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = bb; bb = a; a = t1 + t2;
    }
    st[0] += a; st[1] += bb; st[2] += c; st[3] += d;
    st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

void ms_sha256_init(ms_sha256_t *s)
{
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    for (unsigned i = 0; i < 8; i++)
        s->state[i] = iv[i];
    s->bytes = 0;
    s->fill = 0;
}

void ms_sha256_update(ms_sha256_t *s, const void *data, uint32_t len)
{
    const uint8_t *p = data;
    s->bytes += len;
    while (len) {
        if (s->fill == 0 && len >= 64u) {
            sha256_block(s->state, p);
            p += 64;
            len -= 64;
            continue;
        }
        s->block[s->fill++] = *p++;
        len--;
        if (s->fill == 64u) {
            sha256_block(s->state, s->block);
            s->fill = 0;
        }
    }
}

void ms_sha256_final(ms_sha256_t *s, uint8_t digest[32])
{
    uint64_t bits = s->bytes * 8u;
    uint8_t pad = 0x80;
    ms_sha256_update(s, &pad, 1);
    pad = 0;
    while (s->fill != 56u)
        ms_sha256_update(s, &pad, 1);
    uint8_t len[8];
    for (unsigned i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    ms_sha256_update(s, len, 8);
    for (unsigned i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(s->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(s->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(s->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)s->state[i];
    }
}

int ms_image_check_header(const ms_image_hdr_t *h, uint32_t capacity, uint32_t run_addr,
                          unsigned kind)
{
    if (capacity < MS_IMAGE_HDR_SIZE || h->magic != MS_IMAGE_MAGIC)
        return MS_IMAGE_BAD_MAGIC;
    if (h->hdr_version != MS_IMAGE_HDR_VERSION)
        return MS_IMAGE_BAD_HDR_VERSION;
    if (ms_crc32(0, h, MS_IMAGE_HDR_SIZE - 4u) != h->hdr_crc32)
        return MS_IMAGE_BAD_HDR_CRC;
    if (h->length > capacity - MS_IMAGE_HDR_SIZE)
        return MS_IMAGE_BAD_LENGTH;
    if (run_addr != 0u && h->load_addr != run_addr)
        return MS_IMAGE_BAD_PLACE;
    if (kind != 0u && h->kind != kind)
        return MS_IMAGE_BAD_KIND;
    return MS_IMAGE_OK;
}

int ms_image_check_digests(const ms_image_hdr_t *h, uint32_t crc32, const uint8_t sha256[32])
{
    if (crc32 != h->crc32)
        return MS_IMAGE_BAD_CRC;
    uint8_t diff = 0;
    for (unsigned i = 0; i < 32; i++)
        diff |= (uint8_t)(sha256[i] ^ h->sha256[i]);
    return diff ? MS_IMAGE_BAD_SHA256 : MS_IMAGE_OK;
}

int ms_image_check(const void *image, uint32_t capacity, uint32_t run_addr, unsigned kind)
{
    const ms_image_hdr_t *h = image;
    int r = ms_image_check_header(h, capacity, run_addr, kind);
    if (r != MS_IMAGE_OK)
        return r;
    ms_sha256_t s;
    uint8_t digest[32];
    ms_sha256_init(&s);
    ms_sha256_update(&s, ms_image_payload(h), h->length);
    ms_sha256_final(&s, digest);
    return ms_image_check_digests(h, ms_crc32(0, ms_image_payload(h), h->length), digest);
}

const char *ms_image_check_name(int result)
{
    static const char *const names[] = {"ok", "magic", "hdr_version", "hdr_crc32", "length",
                                        "load_addr", "kind", "crc32", "sha256"};
    if (result < 0 || (unsigned)result >= sizeof names / sizeof names[0])
        return "unknown";
    return names[result];
}

int ms_start_params(const ms_image_hdr_t *h, const ms_start_rec_t **recs, uint32_t *count)
{
    if (h->kind != MS_IMAGE_PARAMS)
        return MS_IMAGE_BAD_KIND;
    if (h->length % sizeof(ms_start_rec_t))
        return MS_IMAGE_BAD_LENGTH;
    *recs = (const ms_start_rec_t *)ms_image_payload(h);
    *count = h->length / sizeof(ms_start_rec_t);
    return MS_IMAGE_OK;
}
