//! Sprig's hashes and encodings: `sha1sum sha256sum sha512sum adler32sum b64enc b64dec
//! b32enc b32dec`, charged before they work.

use sha2::Digest;

use super::call::{Ctx, FResult, FuncError, arg_str};
use super::codec;
use super::value::Value;

pub(super) fn sha1sum(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, s);
    ctx.bytes(&codec::hex_lower(digest.as_ref()))
}

pub(super) fn sha256sum(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    ctx.bytes(&codec::hex_lower(&sha2::Sha256::digest(s)))
}

pub(super) fn sha512sum(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    ctx.bytes(&codec::hex_lower(&sha2::Sha512::digest(s)))
}

pub(super) fn adler32sum(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    ctx.bytes(codec::adler32(s).to_string().as_bytes())
}

/// Charges for an encoding or decoding of `s` whose output is at most `num / den` of its
/// size, plus `extra` bytes.
fn reserve_coded(ctx: &mut Ctx<'_>, s: &[u8], num: usize, den: usize) -> Result<(), FuncError> {
    ctx.work(s.len())?;
    ctx.reserve(s.len().div_ceil(den).saturating_mul(num))
}

pub(super) fn b64enc(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    reserve_coded(ctx, arg_str(&args, 0), 4, 3)?;
    Ok(Ctx::charged(codec::base64_encode(arg_str(&args, 0))))
}

pub(super) fn b64dec(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    reserve_coded(ctx, arg_str(&args, 0), 3, 4)?;
    match codec::base64_decode(arg_str(&args, 0)) {
        Ok(out) => Ok(Ctx::charged(out)),
        Err(offset) => ctx.bytes(format!("illegal base64 data at input byte {offset}").as_bytes()),
    }
}

pub(super) fn b32enc(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    reserve_coded(ctx, arg_str(&args, 0), 8, 5)?;
    Ok(Ctx::charged(codec::base32_encode(arg_str(&args, 0))))
}

pub(super) fn b32dec(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    reserve_coded(ctx, arg_str(&args, 0), 5, 8)?;
    match codec::base32_decode(arg_str(&args, 0)) {
        Ok(out) => Ok(Ctx::charged(out)),
        Err(offset) => ctx.bytes(format!("illegal base32 data at input byte {offset}").as_bytes()),
    }
}
