"""dexndm.teleop"""
