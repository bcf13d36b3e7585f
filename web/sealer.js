// Seals a Secret in the browser with the controller's certificate (docs/web.md).
// Wire format (docs/wire-format.md): for every value, a fresh 32-byte session key is
// RSA-OAEP(SHA-256, label = scope label) encrypted; the value is AES-256-GCM encrypted with it
// (12 zero bytes nonce, no AAD); the item is base64(u16be(len(rsa)) || rsa || aes || tag).
// Nothing here talks to the network except the one fetch of v1/cert.pem on the served page,
// and nothing is stored in the browser.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const utf8 = new TextEncoder();
  const RSA_ENCRYPTION_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
  const NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';
  const CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';

  // ---- DER: just enough to find the validity and the SubjectPublicKeyInfo ----

  function tlv(buf, pos, limit) {
    if (pos + 2 > limit) throw new Error('certificate: truncated DER');
    const tag = buf[pos];
    let len = buf[pos + 1];
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || pos + 2 + n > limit) throw new Error('certificate: bad DER length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
      header = 2 + n;
    }
    const start = pos + header;
    const end = start + len;
    if (end > limit) throw new Error('certificate: truncated DER');
    return { tag, begin: pos, start, end };
  }

  function children(buf, node) {
    const out = [];
    for (let pos = node.start; pos < node.end;) {
      const child = tlv(buf, pos, node.end);
      out.push(child);
      pos = child.end;
    }
    return out;
  }

  function expect(node, tag, what) {
    if (!node || node.tag !== tag) throw new Error(`certificate: ${what} not found`);
    return node;
  }

  function derTime(buf, node) {
    const s = String.fromCharCode(...buf.subarray(node.start, node.end));
    let m;
    if (node.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
      const yy = Number(m[1]);
      m[1] = String(yy < 50 ? 2000 + yy : 1900 + yy);
    } else if (node.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
      // already four digits
    } else {
      throw new Error('certificate: bad validity time');
    }
    const [, y, mo, d, h, mi, se] = m.map(Number);
    return new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  }

  function unsignedInt(buf, node) {
    let bytes = buf.subarray(node.start, node.end);
    while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
    return bytes;
  }

  function parseCertificate(der) {
    const cert = expect(tlv(der, 0, der.length), 0x30, 'Certificate');
    const tbs = expect(children(der, cert)[0], 0x30, 'TBSCertificate');
    const fields = children(der, tbs);
    let i = fields[0] && fields[0].tag === 0xa0 ? 1 : 0; // [0] version
    i += 3; // serialNumber, signature, issuer
    const validity = children(der, expect(fields[i++], 0x30, 'validity'));
    i += 1; // subject
    const spki = expect(fields[i], 0x30, 'SubjectPublicKeyInfo');
    const [alg, bits] = children(der, spki);
    const oid = expect(children(der, expect(alg, 0x30, 'algorithm'))[0], 0x06, 'algorithm OID');
    const oidBytes = der.subarray(oid.start, oid.end);
    if (oidBytes.length !== RSA_ENCRYPTION_OID.length ||
        oidBytes.some((b, k) => b !== RSA_ENCRYPTION_OID[k])) {
      throw new Error('certificate: the public key is not an RSA key');
    }
    expect(bits, 0x03, 'public key');
    if (der[bits.start] !== 0) throw new Error('certificate: bad public key bit string');
    const rsaKey = expect(tlv(der, bits.start + 1, bits.end), 0x30, 'RSA public key');
    const [n, e] = children(der, rsaKey);
    expect(n, 0x02, 'modulus');
    expect(e, 0x02, 'exponent');
    const modulus = unsignedInt(der, n);
    let bitLength = modulus.length * 8;
    for (let top = modulus[0]; top < 0x80 && bitLength > 0; top <<= 1) bitLength--;
    return {
      notBefore: derTime(der, validity[0]),
      notAfter: derTime(der, validity[1]),
      spki: der.slice(spki.begin, spki.end),
      modulus,
      exponent: unsignedInt(der, e),
      bits: bitLength,
    };
  }

  function pemToDer(pem) {
    const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
    if (!m) throw new Error('certificate: no PEM CERTIFICATE block');
    const bin = atob(m[1].replace(/\s+/g, ''));
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    return der;
  }

  // ---- encodings ----

  function base64(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin);
  }

  // SSH-style SHA256 fingerprint of the RSA key (what `kubeseal-rs cert` prints).
  async function fingerprint(modulus, exponent) {
    const parts = [];
    const u32 = (n) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const string = (b) => { parts.push(u32(b.length), b); };
    const mpint = (b) => string(b[0] & 0x80 ? Uint8Array.of(0, ...b) : b);
    string(utf8.encode('ssh-rsa'));
    mpint(exponent);
    mpint(modulus);
    const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { wire.set(p, off); off += p.length; }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', wire));
    return 'SHA256:' + base64(digest).replace(/=+$/, '');
  }

  const rfc3339 = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

  // go-yaml v2 style: keys sorted, plain scalars where unambiguous, else double-quoted.
  function yamlScalar(s) {
    const plain = /^[A-Za-z_/][A-Za-z0-9_./+=-]*$/.test(s) &&
      !/^(y|n|yes|no|true|false|on|off|null)$/i.test(s);
    return plain ? s : JSON.stringify(s);
  }

  function yaml(value, indent) {
    let out = '';
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (typeof v === 'object') {
        out += `${indent}${yamlScalar(key)}:\n${yaml(v, indent + '  ')}`;
      } else {
        out += `${indent}${yamlScalar(key)}: ${yamlScalar(v)}\n`;
      }
    }
    return out;
  }

  // ---- sealing ----

  function label(scope, namespace, name) {
    if (scope === 'strict') return utf8.encode(`${namespace}/${name}`);
    if (scope === 'namespace-wide') return utf8.encode(namespace);
    return new Uint8Array(0);
  }

  async function sealValue(publicKey, oaepLabel, plaintext) {
    const sessionKey = crypto.getRandomValues(new Uint8Array(32));
    try {
      const rsa = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'RSA-OAEP', label: oaepLabel }, publicKey, sessionKey));
      const aesKey = await crypto.subtle.importKey(
        'raw', sessionKey, { name: 'AES-GCM' }, false, ['encrypt']);
      const aes = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: new Uint8Array(12), tagLength: 128 }, aesKey, plaintext));
      const blob = new Uint8Array(2 + rsa.length + aes.length);
      blob[0] = rsa.length >> 8;
      blob[1] = rsa.length & 255;
      blob.set(rsa, 2);
      blob.set(aes, 2 + rsa.length);
      return base64(blob);
    } finally {
      sessionKey.fill(0);
    }
  }

  const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const ITEM_KEY = /^[-._a-zA-Z0-9]+$/;

  // The form's content, checked; values as bytes.
  async function readForm() {
    const namespace = $('namespace').value.trim();
    const name = $('name').value.trim();
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
      throw new Error('namespace: lower-case letters, digits and "-", at most 63 characters');
    }
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
      throw new Error('name: lower-case letters, digits, "-" and ".", at most 253 characters');
    }
    const items = [];
    const seen = new Set();
    for (const row of document.querySelectorAll('#rows .item')) {
      const key = row.querySelector('.key').value.trim();
      const input = row.querySelector('.value');
      const file = row.querySelector('.file').files[0];
      if (!key && !input.value && !file) continue;
      if (!ITEM_KEY.test(key) || key.length > 253 || key === '.' || key === '..') {
        throw new Error(`item key ${JSON.stringify(key)}: letters, digits, "-", "_" and "." only`);
      }
      if (seen.has(key)) throw new Error(`item key ${JSON.stringify(key)} appears twice`);
      seen.add(key);
      const bytes = file ? new Uint8Array(await file.arrayBuffer()) : utf8.encode(input.value);
      items.push({ key, bytes });
    }
    if (items.length === 0) throw new Error('add at least one item');
    return { namespace, name, scope: $('scope').value, type: $('type').value, items };
  }

  function sealedSecret(form, encryptedData) {
    const meta = { name: form.name, namespace: form.namespace };
    const annotation = { 'namespace-wide': NAMESPACE_WIDE, 'cluster-wide': CLUSTER_WIDE }[form.scope];
    if (annotation) meta.annotations = { [annotation]: 'true' };
    return {
      kind: 'SealedSecret',
      apiVersion: 'bitnami.com/v1alpha1',
      metadata: meta,
      spec: {
        template: { metadata: structuredClone(meta), type: form.type },
        encryptedData,
      },
    };
  }

  // ---- page ----

  let publicKey = null;
  let output = null;

  function addRow() {
    const row = $('row-template').content.firstElementChild.cloneNode(true);
    const value = row.querySelector('.value');
    const file = row.querySelector('.file');
    file.addEventListener('change', () => {
      const chosen = file.files[0];
      value.value = '';
      value.disabled = Boolean(chosen);
      value.placeholder = chosen ? `file: ${chosen.name} (${chosen.size} bytes)` : 'value';
    });
    row.querySelector('.remove').addEventListener('click', () => row.remove());
    $('rows').append(row);
    return row;
  }

  function setOutput(yamlText, jsonText) {
    output = { yaml: yamlText, json: jsonText };
    $('out-yaml').value = yamlText;
    $('out-json').value = jsonText;
    for (const id of ['copy-yaml', 'download-yaml', 'copy-json', 'download-json']) {
      $(id).disabled = !output.yaml;
    }
  }

  async function seal() {
    $('seal-error').textContent = '';
    $('status').textContent = '';
    setOutput('', '');
    let form = null;
    try {
      form = await readForm();
      const oaepLabel = label(form.scope, form.namespace, form.name);
      const encryptedData = {};
      for (const { key } of [...form.items].sort((a, b) => (a.key < b.key ? -1 : 1))) {
        const item = form.items.find((it) => it.key === key);
        encryptedData[key] = await sealValue(publicKey, oaepLabel, item.bytes);
      }
      const doc = sealedSecret(form, encryptedData);
      setOutput(`---\n${yaml(doc, '')}`, `${JSON.stringify(doc, null, 2)}\n`);
      $('status').textContent =
        `Sealed ${form.items.length} item(s) for ${form.namespace}/${form.name} (${form.scope}).`;
      $('status').className = 'ok';
    } catch (err) {
      $('seal-error').textContent = `Cannot seal: ${err.message}`;
    } finally {
      if (form) for (const item of form.items) item.bytes.fill(0);
    }
  }

  async function copy(which) {
    const area = $(`out-${which}`);
    try {
      await navigator.clipboard.writeText(area.value);
    } catch {
      area.select();
      document.execCommand('copy');
    }
    $('status').textContent = `${which.toUpperCase()} copied.`;
  }

  function download(which) {
    const type = which === 'yaml' ? 'application/yaml' : 'application/json';
    const url = URL.createObjectURL(new Blob([output[which]], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${$('name').value.trim() || 'sealed-secret'}.sealedsecret.${which}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function loadCertificate() {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error('this browser gives no WebCrypto here: open the page over https, ' +
        'on localhost (kubectl port-forward) or as a local file');
    }
    const embedded = $('embedded-cert');
    let pem;
    if (embedded) {
      pem = embedded.textContent;
      $('cert-source').textContent = 'embedded in this page';
    } else {
      const url = new URL('v1/cert.pem', document.baseURI);
      const resp = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
      if (!resp.ok) throw new Error(`cannot fetch the certificate from ${url}: HTTP ${resp.status}`);
      pem = await resp.text();
      $('cert-source').textContent = `served by this controller (${url})`;
    }
    const cert = parseCertificate(pemToDer(pem));
    $('cert-fingerprint').textContent = await fingerprint(cert.modulus, cert.exponent);
    $('cert-key-size').textContent = `${cert.bits} bits`;
    const expired = Date.now() > cert.notAfter.getTime();
    $('cert-not-after').textContent = rfc3339(cert.notAfter) + (expired ? ' (expired)' : '');
    if (expired) throw new Error('the certificate has expired: fetch the current one');
    publicKey = await crypto.subtle.importKey(
      'spki', cert.spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  }

  function init() {
    addRow();
    $('add-row').addEventListener('click', () => addRow().querySelector('.key').focus());
    $('seal').addEventListener('click', seal);
    $('copy-yaml').addEventListener('click', () => copy('yaml'));
    $('copy-json').addEventListener('click', () => copy('json'));
    $('download-yaml').addEventListener('click', () => download('yaml'));
    $('download-json').addEventListener('click', () => download('json'));
    loadCertificate().then(
      () => { $('seal').disabled = false; document.body.dataset.ready = 'true'; },
      (err) => {
        $('cert-error').textContent = `Cannot use the certificate: ${err.message}`;
        if ($('cert-source').textContent.startsWith('loading')) $('cert-source').textContent = '–';
        document.body.dataset.ready = 'error';
      });
  }

  init();
})();
