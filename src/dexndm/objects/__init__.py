"""dexndm.objects"""
