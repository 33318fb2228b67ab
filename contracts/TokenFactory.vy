#pragma version ~=0.4.3
"""
@title Amanat Token Factory
@license Apache-2.0
@notice Creates one AssetToken per approved asset from an EIP-5202
        blueprint, with its initial rules, and links it in the AssetRegistry.
@dev Governance only, so tokenizing an asset is an M-of-N decision.
"""

interface AssetRegistry:
    def linkToken(assetId: uint256, token: address): nonpayable

MAX_COUNTRIES: constant(uint256) = 64

event TokenCreated:
    assetId: indexed(uint256)
    token: indexed(address)
    name: String[64]
    symbol: String[32]
    decimals: uint8

governance: public(immutable(address))
identityRegistry: public(immutable(address))
assetRegistry: public(immutable(address))
tokenBlueprint: public(immutable(address))
tokenOf: public(HashMap[uint256, address])


@deploy
def __init__(
    governance_: address, identityRegistry_: address, assetRegistry_: address, tokenBlueprint_: address
):
    """
    @param governance_ The governance contract.
    @param identityRegistry_ The shared IdentityRegistry.
    @param assetRegistry_ The AssetRegistry.
    @param tokenBlueprint_ The AssetToken blueprint (EIP-5202).
    """
    assert governance_ != empty(address), "governance is the zero address"
    assert identityRegistry_ != empty(address), "identity registry is the zero address"
    assert assetRegistry_ != empty(address), "asset registry is the zero address"
    assert tokenBlueprint_ != empty(address), "token blueprint is the zero address"
    governance = governance_
    identityRegistry = identityRegistry_
    assetRegistry = assetRegistry_
    tokenBlueprint = tokenBlueprint_


@external
def createToken(
    assetId: uint256,
    name: String[64],
    symbol: String[32],
    decimals: uint8,
    rules: uint256,
    limits: uint256,
    listedCountries: DynArray[uint16, MAX_COUNTRIES],
) -> address:
    """
    @notice Tokenize an approved asset. Governance only.
    @param assetId The asset in the AssetRegistry.
    @param name Token name.
    @param symbol Token symbol.
    @param decimals Decimals of one unit.
    @param rules Packed compliance rules and maturity date (see AssetToken).
    @param limits Packed holding cap and minimum holding.
    @param listedCountries Countries on the allow or deny list.
    @return The new token's address.
    """
    assert msg.sender == governance, "caller is not governance"
    assert self.tokenOf[assetId] == empty(address), "asset already tokenized"
    token: address = create_from_blueprint(
        tokenBlueprint,
        name,
        symbol,
        decimals,
        assetId,
        identityRegistry,
        assetRegistry,
        governance,
        rules,
        limits,
        listedCountries,
    )
    self.tokenOf[assetId] = token
    extcall AssetRegistry(assetRegistry).linkToken(assetId, token)
    log TokenCreated(assetId=assetId, token=token, name=name, symbol=symbol, decimals=decimals)
    return token
