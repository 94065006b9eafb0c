# SAM's build for the functions (BuildMethod: makefile): `sam build` runs `make build-<LogicalId>`
# with ARTIFACTS_DIR set. Each function is built as its own package (`-p`), so Cargo resolves
# features for that function alone: building `--bin` at the workspace root, as SAM's
# rust-cargolambda method does, unifies features across every member (the CLI and the tests
# included) and links the time-zone database into every function.
#
# Builds share one target folder outside SAM's scratch copies, so seven functions compile the
# dependencies once.

CARGO_TARGET_DIR ?= $(HOME)/.cache/stint/lambda-target
export CARGO_TARGET_DIR
LAMBDA_FLAGS ?= --arm64

define function
build-$(1):
	cargo lambda build --profile lambda $(LAMBDA_FLAGS) -p $(2)
	mkdir -p "$$(ARTIFACTS_DIR)"
	cp "$$(CARGO_TARGET_DIR)/lambda/$(2)/bootstrap" "$$(ARTIFACTS_DIR)/bootstrap"
endef

$(eval $(call function,RequestFunction,stint-request))
$(eval $(call function,AlertsFunction,stint-alerts))
$(eval $(call function,ApproveFunction,stint-approve))
$(eval $(call function,GrantFunction,stint-grant))
$(eval $(call function,RevokeFunction,stint-revoke))
$(eval $(call function,RelayFunction,stint-relay))
$(eval $(call function,NotifyFunction,stint-notify))
$(eval $(call function,ReportFunction,stint-report))
$(eval $(call function,InteractionsFunction,stint-interactions))

.PHONY: $(addprefix build-,RequestFunction AlertsFunction ApproveFunction GrantFunction RevokeFunction RelayFunction NotifyFunction ReportFunction InteractionsFunction)
