"""Generate a passphrase-less throwaway signing key in $GNUPGHOME; print its fingerprint."""
import gnupg

gpg = gnupg.GPG()
key = gpg.gen_key(gpg.gen_key_input(name_real="git-testlog demo", name_email="demo@example.invalid",
                                    key_type="RSA", key_length=2048, no_protection=True))
print(key.fingerprint)
