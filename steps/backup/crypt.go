package backup

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
)

// s2kCount is the iterated-and-salted S2K count, gpg's own maximum, so a
// stolen archive is as slow to brute-force as the plan's gpg output.
const s2kCount = 65011712

// pgpConfig is the one encryption profile drbook writes: AES-256 in a
// SEIPD v1 packet with MDC (no AEAD, which gpg 2.2 cannot read), SHA-256
// iterated+salted S2K, and no OpenPGP compression because the payload is
// already gzip.
func pgpConfig() *packet.Config {
	return &packet.Config{
		DefaultCipher:          packet.CipherAES256,
		DefaultHash:            crypto.SHA256,
		DefaultCompressionAlgo: packet.CompressionNone,
		S2KConfig: &s2k.Config{
			S2KMode:  s2k.IteratedSaltedS2K,
			Hash:     crypto.SHA256,
			S2KCount: s2kCount,
		},
	}
}

// encrypt returns a writer whose input is encrypted with passphrase onto w.
// Close it to write the MDC.
func encrypt(w io.Writer, passphrase []byte, modTime time.Time) (io.WriteCloser, error) {
	if len(passphrase) == 0 {
		return nil, ErrNoPassphrase
	}
	pw, err := openpgp.SymmetricallyEncrypt(w, passphrase, &openpgp.FileHints{IsBinary: true, ModTime: modTime}, pgpConfig())
	if err != nil {
		return nil, fmt.Errorf("start encryption: %w", err)
	}
	return pw, nil
}

// decrypt opens an OpenPGP symmetrically encrypted message. Reading the
// returned body to EOF checks the MDC; only then is the plaintext trusted.
// It reads archives from drbook and from gpg (with or without gpg's own
// compression layer).
//
// tail yields whatever follows the OpenPGP message; it should be empty.
func decrypt(r io.Reader, passphrase []byte) (body, tail io.Reader, err error) {
	if len(passphrase) == 0 {
		return nil, nil, ErrNoPassphrase
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64 << 10)
	if quickCheck(head, passphrase) == checkWrong {
		return nil, nil, ErrWrongPassphrase
	}
	r = br
	tried := false
	prompt := func(keys []openpgp.Key, symmetric bool) ([]byte, error) {
		if tried || !symmetric {
			return nil, ErrWrongPassphrase
		}
		tried = true
		return passphrase, nil
	}
	md, err := openpgp.ReadMessage(r, nil, prompt, &packet.Config{})
	if err != nil {
		return nil, nil, classifyPGP(err)
	}
	if !md.IsSymmetricallyEncrypted {
		return nil, nil, fmt.Errorf("%w: not a passphrase-encrypted OpenPGP message", ErrCorrupt)
	}
	return &pgpBody{r: md.UnverifiedBody}, br, nil
}

// pgpBody classifies errors surfacing at the end of the body (MDC).
type pgpBody struct{ r io.Reader }

func (b *pgpBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = classifyPGP(err)
	}
	return n, err
}

// classifyPGP maps go-crypto's errors onto ErrWrongPassphrase and ErrCorrupt.
func classifyPGP(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrWrongPassphrase), errors.Is(err, pgperrors.ErrKeyIncorrect):
		return ErrWrongPassphrase
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: truncated (%v)", ErrCorrupt, err)
	}
	var de pgperrors.DecryptWithSessionKeyError
	if errors.As(err, &de) {
		// The passphrase passed the quick check, so this is damage.
		return fmt.Errorf("%w: damaged or truncated: decryption failed (%v)", ErrCorrupt, err)
	}
	var se pgperrors.SignatureError
	var st pgperrors.StructuralError
	var un pgperrors.UnsupportedError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: integrity check (MDC) failed: %v", ErrCorrupt, err)
	case errors.As(err, &st):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	case errors.As(err, &un):
		return fmt.Errorf("%w: unsupported OpenPGP data: %v", ErrCorrupt, err)
	}
	return err
}

type keyVerdict int

const (
	checkUnknown keyVerdict = iota
	checkOK
	checkWrong
)

// quickCheck tells a wrong passphrase from a damaged archive the way gpg
// does: it derives the session key from the first SKESK packet and
// decrypts the first block of the SEIPD v1 packet, whose last two bytes
// repeat the two before them (RFC 4880 5.13). go-crypto deliberately
// hides this (oracle attacks matter for online decryption services, not
// for an operator restoring a backup), so a wrong passphrase would
// otherwise look like corruption.
func quickCheck(head, passphrase []byte) keyVerdict {
	pr := packet.NewReader(bytes.NewReader(head))
	var key []byte
	var cf packet.CipherFunction
	for {
		p, err := pr.Next()
		if err != nil {
			return checkUnknown
		}
		switch p := p.(type) {
		case *packet.SymmetricKeyEncrypted:
			if key != nil {
				continue
			}
			k, c, err := p.Decrypt(passphrase)
			if err != nil || c.KeySize() == 0 || len(k) != c.KeySize() {
				return checkWrong
			}
			key, cf = k, c
		case *packet.SymmetricallyEncrypted:
			if key == nil || p.Version != 1 {
				return checkUnknown
			}
			switch cf {
			case packet.CipherAES128, packet.CipherAES192, packet.CipherAES256:
			default:
				return checkUnknown
			}
			block, err := aes.NewCipher(key)
			if err != nil {
				return checkUnknown
			}
			bs := block.BlockSize()
			buf := make([]byte, bs+2)
			if _, err := io.ReadFull(p.Contents, buf); err != nil {
				return checkUnknown
			}
			cipher.NewCFBDecrypter(block, make([]byte, bs)).XORKeyStream(buf, buf)
			if buf[bs-2] == buf[bs] && buf[bs-1] == buf[bs+1] {
				return checkOK
			}
			return checkWrong
		default:
			return checkUnknown
		}
	}
}
