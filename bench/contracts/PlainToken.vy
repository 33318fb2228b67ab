#pragma version ~=0.4.3
"""
@title Plain ERC-20 (benchmark baseline only)
@license Apache-2.0
@notice The smallest ERC-20 transfer path, to measure the raw node's throughput against.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

balanceOf: public(HashMap[address, uint256])
totalSupply: public(uint256)


@deploy
def __init__(supply: uint256):
    """
    @param supply Units minted to the deployer.
    """
    self.balanceOf[msg.sender] = supply
    self.totalSupply = supply


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move units from the caller.
    @param receiver The receiving address.
    @param amount Units.
    @return True.
    """
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=msg.sender, receiver=receiver, value=amount)
    return True
