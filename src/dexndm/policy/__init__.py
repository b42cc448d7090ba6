"""dexndm.policy"""
