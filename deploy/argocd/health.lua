-- Argo CD health check for bitnami.com/SealedSecret (sealed-secrets-rs and upstream Sealed
-- Secrets controllers alike). Install it as
-- `resource.customizations.health.bitnami.com_SealedSecret` in argocd-cm
-- (docs/gitops-health.md). Argo CD runs it with gopher-lua and without the string library,
-- so this file uses only the base library and `..`.
--
--   being deleted                                                   -> Progressing
--   no status, or status.observedGeneration < metadata.generation  -> Progressing
--   Synced=True                                                     -> Healthy
--   Synced=False                                                    -> Degraded (reason: message)
--   no Synced condition                                             -> Progressing
local hs = {}

-- Being deleted: the Secret goes with it (owner reference); nothing to unseal any more.
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  if obj.metadata.finalizers ~= nil and #obj.metadata.finalizers > 0 then
    hs.message = hs.message .. "; blocked by finalizers: " .. table.concat(obj.metadata.finalizers, ", ")
  end
  return hs
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to unseal the SealedSecret (no status yet)"
  return hs
end

-- A spec change the controller has not looked at yet: the condition below describes an
-- older spec, so it says nothing about the current one.
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to unseal generation " .. generation
  return hs
end

local synced = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Synced" then
      synced = condition
    end
  end
end

if synced == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to unseal the SealedSecret (no Synced condition)"
  return hs
end

if synced.status == "True" then
  hs.status = "Healthy"
  hs.message = "Unsealed into its Secret"
  return hs
end

if synced.status == "False" then
  hs.status = "Degraded"
  local message = synced.message
  if message == nil or message == "" then
    message = "the controller could not unseal the SealedSecret"
  end
  -- sealed-secrets-rs diagnoses unseal failures in the reason (WrongNamespace, WrongName,
  -- WrongScope, UnknownKey, CorruptData, UnknownKeyOrCorruptData); upstream leaves it empty.
  if synced.reason ~= nil and synced.reason ~= "" then
    message = synced.reason .. ": " .. message
  end
  hs.message = message
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the controller to unseal the SealedSecret (Synced is " .. tostring(synced.status) .. ")"
return hs
